/**
 * The internode protocol: what nodes of one cluster ask each other, over HTTP/1.1 keep-alive
 * connections (HTTPS when the cluster runs TLS, with each node's certificate as its client certificate),
 * every call and every answer signed with the cluster secret (internode-auth.ts). The replica and
 * write endpoints below are also served as frames on one authenticated connection per peer
 * (frame-codec.ts), which is how members call them. Every body is capped
 * at what a legal call to its endpoint carries (body-limits.ts). Not
 * part of the public contract (openapi/levelring.yaml): clients never call these, and a call without
 * a valid signature is a 401.
 *
 *   GET  /internal/v1/prove                the one call that needs no signature: a challenge
 *        (X-Levelring-Nonce: challenge)    200 application/json {"node": id}, the answer signed over
 *                                          the challenge; a node that knows a seed only by address
 *                                          calls this first and signs nothing for it unless it passes
 *   GET  /internal/v1/ping                 200 application/json {"node": id, "ring": digest | null}
 *   GET  /internal/v1/replicas/{key}       200 OBJECT_MEDIA_TYPE (the stored set, tombstones
 *                                          included) or 404: a replica-level read that never repairs
 *   PUT  /internal/v1/replicas/{key}       body OBJECT_MEDIA_TYPE; merged into the stored set
 *        ?sync=1                           (DVV sync); 204 once stored, fsynced first with sync=1
 *        ?hint-for={node}[&sync=1]         ... kept instead as a hint for the down primary {node}
 *                                          (sloppy quorum; handoff/hint-store.ts), not merged here
 *   GET  /internal/v1/replicas/{key}?hints=1   the stored set merged with this node's hints for
 *                                          the key (a read sent to a fallback)
 *   GET  /internal/v1/replicas/{key}?digest=1[&hints=1]   200 DIGEST_MEDIA_TYPE: instead of the set,
 *                                          its 20-byte version hash (coordination/replica-digest.ts),
 *                                          or 404 for none; statuses as for the set (203: rebuilding)
 *   POST /internal/v1/writes/{key}         body WRITE_MEDIA_TYPE: stamp a client write at this node
 *                                          and replicate it; 200 WRITE_RESULT_MEDIA_TYPE once W
 *                                          replicas acknowledged, else a problem+json (503 with counts)
 *
 * {key} is one percent-encoded path segment. Objects travel in the storage encoding
 * (replica/object-codec.ts), so a replica stores what it receives without re-encoding it.
 *
 * Forwarded write (WRITE_MEDIA_TYPE):
 *   u8      format (WIRE_FORMAT)
 *   u8      flags: bit 0 tombstone (a delete: no value follows), bit 1 supersede the stamping
 *           replica's current versions (no context follows)
 *   varint  w | varint dw | varint pw      resolved counts, each <= n
 *   varint  timeoutMs                      the time left of the client's deadline
 *   [context]  varint E, E x (string actor | varint counter), varint U, U x (varint entry | varint counter)
 *   [value]    string contentType | bytes value
 *
 * Write result (WRITE_RESULT_MEDIA_TYPE):
 *   u8 format | string dot actor | varint dot counter | rest: the stored set (object codec)
 */
import { ByteReader, ByteWriter, malformedBytes } from '../encoding/bytes.js'
import type { NewValue, Supersedes } from '../replica/replica-store.js'
import { decodeObject, encodeObject } from '../replica/object-codec.js'
import type { CoordinatedWrite } from '../coordination/coordinator.js'
import type { WriteCounts } from '../coordination/quorum.js'
import type { ActorId, Dot } from '../version/dvv.js'

/** Every internode path starts with this; the node's listener sends these to internode-routes.ts. */
export const INTERNODE_PREFIX = '/internal/v1/'
export const PING_PATH = `${INTERNODE_PREFIX}ping`
export const PROVE_PATH = `${INTERNODE_PREFIX}prove`
export const REPLICAS_PATH = `${INTERNODE_PREFIX}replicas/`
export const WRITES_PATH = `${INTERNODE_PREFIX}writes/`

/** Query of a replica PUT that makes it a hint for the named node. */
export const HINT_FOR_QUERY = 'hint-for'
/** Query of a replica GET sent to a fallback: it answers the hints it keeps for the key. */
export const HINTS_QUERY = 'hints=1'
/** Query of a replica GET that asks for the set's digest instead of the set (a digest read). */
export const DIGEST_QUERY = 'digest=1'

/**
 * The status of a replica read answered by a node whose copy of the key's partition may be missing
 * acknowledged writes (it lost its data and is rebuilding, anti-entropy/partition-recovery.ts):
 * "Non-Authoritative Information", with the stored object as body, or an empty body for none.
 * The status is covered by the answer's signature, unlike a header.
 */
export const REBUILDING_STATUS = 203

export const OBJECT_MEDIA_TYPE = 'application/vnd.levelring.object'
export const DIGEST_MEDIA_TYPE = 'application/vnd.levelring.digest'
export const WRITE_MEDIA_TYPE = 'application/vnd.levelring.write'
export const WRITE_RESULT_MEDIA_TYPE = 'application/vnd.levelring.write-result'

/** Bumped when a layout above changes; a node refuses formats it does not know (400). */
export const WIRE_FORMAT = 1

const FLAG_TOMBSTONE = 1
const FLAG_SUPERSEDE_CURRENT = 2
/** A zone-local write (lw): w and dw count acknowledgements from the stamping replica's zone only. */
const FLAG_ZONE_LOCAL = 4

/** A client write handed to a replica of the key to stamp and replicate. */
export interface ForwardedWrite {
  /** The new value, or null for a delete (a tombstone). */
  readonly value: NewValue | null
  readonly supersedes: Supersedes
  readonly counts: WriteCounts
}

/** Answer to ping: who answered, and the digest of the ring it routes by (null when it has none). */
export interface PingAnswer {
  readonly node: string
  readonly ring: string | null
}

/** Answer to prove: the id of the node whose signature the answer carries. */
export interface ProveAnswer {
  readonly node: string
}

/** The internode path of `key` under `prefix` (REPLICAS_PATH or WRITES_PATH). */
export function keyPath (prefix: string, key: string): string {
  return prefix + encodeURIComponent(key)
}

export function encodeForwardedWrite (write: ForwardedWrite): Buffer {
  const { value, supersedes, counts } = write
  const w = new ByteWriter(64 + (value?.value.length ?? 0))
  w.u8(WIRE_FORMAT)
    .u8((value === null ? FLAG_TOMBSTONE : 0) | (supersedes === 'current' ? FLAG_SUPERSEDE_CURRENT : 0) | (counts.local === true ? FLAG_ZONE_LOCAL : 0))
    .varint(counts.w).varint(counts.dw).varint(counts.pw).varint(counts.timeoutMs)
  if (supersedes !== 'current') {
    const entries = [...supersedes.vv]
    const index = new Map(entries.map(([actor], i) => [actor, i]))
    w.varint(entries.length)
    for (const [actor, counter] of entries) w.string(actor).varint(counter)
    w.varint(supersedes.unseen.length)
    for (const dot of supersedes.unseen) {
      const i = index.get(dot.actor)
      if (i === undefined) throw new RangeError(`unseen dot ${dot.actor}:${dot.counter} has no vector entry`)
      w.varint(i).varint(dot.counter)
    }
  }
  if (value !== null) w.string(value.contentType).bytes(value.value)
  return w.finish()
}

/** Decode a forwarded write; throws LEVELRING_MALFORMED_BYTES for bytes that are not one. */
export function decodeForwardedWrite (bytes: Uint8Array): ForwardedWrite {
  const r = new ByteReader(bytes)
  checkFormat(r)
  const flags = r.u8()
  const counts = { w: r.varint(), dw: r.varint(), pw: r.varint(), timeoutMs: r.varint(), ...((flags & FLAG_ZONE_LOCAL) === 0 ? {} : { local: true }) }
  let supersedes: Supersedes = 'current'
  if ((flags & FLAG_SUPERSEDE_CURRENT) === 0) {
    const vv = new Map<ActorId, number>()
    const actors: ActorId[] = []
    const n = r.varint()
    for (let i = 0; i < n; i++) {
      const actor = r.string()
      vv.set(actor, r.varint())
      actors.push(actor)
    }
    const unseen: Dot[] = []
    const u = r.varint()
    for (let i = 0; i < u; i++) {
      const at = r.offset
      const actor = actors[r.varint()]
      if (actor === undefined) throw malformedBytes('unseen dot names no vector entry', at)
      unseen.push({ actor, counter: r.varint() })
    }
    supersedes = { vv, unseen }
  }
  let value: NewValue | null = null
  if ((flags & FLAG_TOMBSTONE) === 0) {
    const contentType = r.string()
    value = { contentType, value: new Uint8Array(r.bytes()) }
  }
  if (!r.done) throw malformedBytes('trailing bytes after a forwarded write', r.offset)
  return { value, supersedes, counts }
}

export function encodeWriteResult (result: CoordinatedWrite): Buffer {
  const object = encodeObject(result.object)
  return new ByteWriter(object.length + 64).u8(WIRE_FORMAT).string(result.dot.actor).varint(result.dot.counter).raw(object).finish()
}

/** Decode a write result for `key`; throws LEVELRING_MALFORMED_BYTES or LEVELRING_CORRUPT_OBJECT. */
export function decodeWriteResult (key: string, bytes: Uint8Array): CoordinatedWrite {
  const r = new ByteReader(bytes)
  checkFormat(r)
  const dot = { actor: r.string(), counter: r.varint() }
  const object = decodeObject(key, r.raw(bytes.length - r.offset))
  return { object, dot }
}

function checkFormat (r: ByteReader): void {
  const format = r.u8()
  if (format !== WIRE_FORMAT) throw malformedBytes(`wire format ${format}, this node speaks ${WIRE_FORMAT} (mixed versions?)`, 0)
}
