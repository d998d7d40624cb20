import { createHmac, timingSafeEqual } from 'node:crypto'
import { ByteReader, ByteWriter } from '../encoding/bytes.js'
import { GatewayError } from '../error/gateway-error.js'
import { compareActors, type ActorId, type CausalContext, type Dot } from './dvv.js'

/**
 * The X-Causal-Context token: a CausalContext (version vector plus unseen dots), opaque to clients, bound to the key and
 * protected by an HMAC with the cluster secret, so a client can neither forge history nor reuse one
 * key's context on another (counters are node-wide: another key's vector could hide versions the
 * client never saw). base64url without padding.
 *
 *   u8      format (CONTEXT_FORMAT)
 *   varint  entry count E
 *   E x     string actor | varint counter
 *   varint  unseen dot count U
 *   U x     varint entry index (the dot's actor) | varint counter (at most that entry's)
 *   16 B    HMAC-SHA256(secret, DOMAIN | varint keyLength | key | everything above), first 16 bytes
 */

/** Bumped when the layout changes; older tokens are then refused with a 400 (read again). */
export const CONTEXT_FORMAT = 1

/** Truncated MAC length: 128 bits keeps forgery at 2^-128 while the token stays short. */
export const CONTEXT_MAC_BYTES = 16

/** Separates these MACs from any other use of the cluster secret. */
const DOMAIN = Buffer.from('levelring causal context v1\0')

const BASE64URL = /^[A-Za-z0-9_-]+$/

/**
 * The secrets contexts are signed with: one, or the cluster's list (--cluster-secret-file, one a
 * line), which signs with the first and verifies with any, so contexts survive a secret rotation.
 */
export type ContextSecrets = Uint8Array | readonly Uint8Array[]

/** Encode `context` as the token of `key` (signed with the first secret); every unseen dot must be at or below the vector. */
export function encodeContext (key: string, context: CausalContext, secrets: ContextSecrets): string {
  const entries = [...context.vv]
  if (entries.length > 1) entries.sort(([a], [b]) => compareActors(a, b))
  // What the MAC covers (DOMAIN | varint keyLength | key | payload) is written once, the token's
  // payload being its tail, so a read's token costs one buffer and one HMAC update.
  const w = new ByteWriter(DOMAIN.length + 24 + key.length * 3 + entries.length * 24 + context.unseen.length * 16 + CONTEXT_MAC_BYTES)
  w.raw(DOMAIN).string(key)
  const start = w.length
  w.u8(CONTEXT_FORMAT).varint(entries.length)
  for (const [actor, counter] of entries) w.string(actor).varint(counter)
  w.varint(context.unseen.length)
  if (context.unseen.length > 0) {
    const index = new Map(entries.map(([actor], i) => [actor, i]))
    for (const dot of context.unseen) {
      const i = index.get(dot.actor)
      if (i === undefined || context.vv.get(dot.actor)! < dot.counter) throw new RangeError(`unseen dot ${dot.actor}:${dot.counter} is above the vector`)
      w.varint(i).varint(dot.counter)
    }
  }
  const tag = createHmac('sha256', listOf(secrets)[0]!).update(w.finish()).digest()
  return w.raw(tag.subarray(0, CONTEXT_MAC_BYTES)).finish().subarray(start).toString('base64url')
}

/**
 * Decode a token sent with a request for `key`. Throws LEVELRING_INVALID_CONTEXT (a 400) for a token
 * that is not base64url, is truncated, was altered, was signed with none of `secrets`, or belongs to
 * another key: a damaged context must never be taken as "seen nothing" or "seen everything".
 */
export function decodeContext (key: string, token: string, secrets: ContextSecrets): CausalContext {
  if (!BASE64URL.test(token)) throw invalid(key, 'is not base64url')
  const bytes = Buffer.from(token, 'base64url')
  if (bytes.length < 2 + CONTEXT_MAC_BYTES) throw invalid(key, 'is too short (truncated?)')
  const payload = bytes.subarray(0, bytes.length - CONTEXT_MAC_BYTES)
  const given = bytes.subarray(bytes.length - CONTEXT_MAC_BYTES)
  if (!listOf(secrets).some((secret) => timingSafeEqual(given, mac(key, payload, secret)))) {
    throw invalid(key, 'does not verify: it was altered or truncated, comes from another cluster, or was read from another key')
  }
  try {
    const r = new ByteReader(payload)
    const format = r.u8()
    if (format !== CONTEXT_FORMAT) throw invalid(key, `has format ${format}, this node reads format ${CONTEXT_FORMAT}`)
    const vv = new Map<ActorId, number>()
    const actors: ActorId[] = []
    const n = r.varint()
    for (let i = 0; i < n; i++) {
      const actor = r.string()
      const counter = r.varint()
      if (counter < 1 || vv.has(actor)) throw invalid(key, `has a bad entry for ${actor}`)
      vv.set(actor, counter)
      actors.push(actor)
    }
    const unseen: Dot[] = []
    const u = r.varint()
    for (let i = 0; i < u; i++) {
      const actor = actors[r.varint()]
      const counter = r.varint()
      if (actor === undefined || counter < 1 || counter > vv.get(actor)!) throw invalid(key, 'has a bad unseen dot')
      unseen.push({ actor, counter })
    }
    if (!r.done) throw invalid(key, 'has trailing bytes')
    return { vv, unseen }
  } catch (err) {
    if (err instanceof GatewayError) throw err
    throw invalid(key, `does not decode (${(err as Error).message})`)
  }
}

function listOf (secrets: ContextSecrets): readonly Uint8Array[] {
  return secrets instanceof Uint8Array ? [secrets] : secrets
}

function mac (key: string, payload: Uint8Array, secret: Uint8Array): Buffer {
  const keyBytes = Buffer.from(key, 'utf8')
  return createHmac('sha256', secret)
    .update(DOMAIN)
    .update(new ByteWriter(4).varint(keyBytes.length).finish())
    .update(keyBytes)
    .update(payload)
    .digest()
    .subarray(0, CONTEXT_MAC_BYTES)
}

function invalid (key: string, reason: string): GatewayError {
  return new GatewayError('LEVELRING_INVALID_CONTEXT',
    `X-Causal-Context ${reason}; send the token exactly as the last read of this key returned it, or read the key again`,
    { key, parameter: 'X-Causal-Context' })
}
