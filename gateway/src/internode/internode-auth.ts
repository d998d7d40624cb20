import { createHmac, hash, randomFillSync, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { frameKeys, type FrameKeys } from './frame-codec.js'
import { ReplayCache } from './replay-cache.js'

/**
 * The headers of a signed internode call (lower case, as node reads them). `signature` is also on
 * the answer, where it signs the answer.
 */
export const SIGNED_HEADERS = Object.freeze({
  /** The member making the call (fault injection reads it too). */
  caller: 'x-levelring-caller',
  /** The member the caller believes it is calling: a node refuses a call meant for another. */
  target: 'x-levelring-target',
  /** When the caller signed the call, in ms since the Unix epoch. */
  timestamp: 'x-levelring-timestamp',
  /** Random, once per call: a node accepts each nonce once. The answer is bound to it too. */
  nonce: 'x-levelring-nonce',
  /** SHA-256 of the request body (base64url): lets a node refuse a forged call before reading its body. */
  bodyDigest: 'x-levelring-body-sha256',
  /** HMAC-SHA256 of the call (on a request) or of the answer (on an answer), base64url. */
  signature: 'x-levelring-signature'
})

/**
 * How far a call's timestamp may be from the receiver's clock, either way. Wide enough for NTP-kept
 * clocks and a slow call, narrow enough that the replay cache holds a bounded number of nonces.
 */
export const SIGNATURE_WINDOW_MS = 30_000

/**
 * Most nonces a node remembers (ReplayCache): about 8,000 internode calls a second over the window,
 * some 25 MB. Past it the node refuses the oldest timestamps early instead of forgetting nonces.
 */
export const REPLAY_CACHE_LIMIT = 250_000

/** Bytes of a nonce: 128 random bits never repeat by chance. */
const NONCE_BYTES = 16

/** Labels of the keys derived from each cluster secret: the secret itself never signs anything that travels. */
const REQUEST_LABEL = 'levelring internode request v1'
const ANSWER_LABEL = 'levelring internode answer v1'

const NONCE_PATTERN = /^[A-Za-z0-9_-]{22}$/
const DIGEST_PATTERN = /^[A-Za-z0-9_-]{43}$/
const TIMESTAMP_PATTERN = /^[0-9]{1,15}$/
const EMPTY = new Uint8Array(0)

/**
 * Random bytes for nonces, filled 256 nonces at a time: one call into the CSPRNG per nonce cost more than
 * the nonce's HMAC. Every byte is handed out once.
 */
const noncePool = Buffer.alloc(256 * NONCE_BYTES)
let noncePoolOffset = noncePool.length

/** A request that passed every check but the one of its body (done when the body is read). */
export interface CheckedRequest {
  readonly nonce: string
  readonly bodyDigest: string
  /** The member that signed it. */
  readonly caller: string
  /** Which of this node's secrets verified it (0: the first). */
  readonly secret: number
}

/**
 * Authenticates internode calls and their answers with keys derived from the cluster secrets
 * (--cluster-secret-file, one a line: signs with the first, accepts any, so a secret is rotated by
 * rolling restarts).
 *
 * A request is signed over its method, path and query, the SHA-256 of its body, the target's node
 * id, the caller's node id, a timestamp and a random nonce. The receiver accepts it only when it is
 * the target, the timestamp is within SIGNATURE_WINDOW_MS of its clock, the nonce is new (ReplayCache)
 * and the signature verifies; the body is checked against its digest when read. So a captured call is
 * good for nothing: not at another node (target), not later (nonce, timestamp), not with another body.
 *
 * An answer is signed by the answering node over its status, the request's method, path and nonce,
 * its own id and the SHA-256 of its body, under a second derived key (an answer never passes for a
 * request). The caller uses nothing of an answer whose signature does not verify.
 */
export class InternodeAuth {
  /** This node's id: the caller of the calls it signs, the target of the calls it accepts. */
  readonly nodeId: string
  readonly #requestKeys: Buffer[]
  readonly #answerKeys: Buffer[]
  readonly #seen: ReplayCache
  readonly #now: () => number

  constructor (secrets: readonly Uint8Array[], nodeId: string, options: { now?: () => number } = {}) {
    if (secrets.length === 0) throw new RangeError('InternodeAuth needs at least one cluster secret')
    this.nodeId = nodeId
    this.#requestKeys = secrets.map((s) => createHmac('sha256', s).update(REQUEST_LABEL).digest())
    this.#answerKeys = secrets.map((s) => createHmac('sha256', s).update(ANSWER_LABEL).digest())
    this.#now = options.now ?? Date.now
    // Calls signed before this node started are refused: the nonces it saw in an earlier run are gone.
    this.#seen = new ReplayCache(SIGNATURE_WINDOW_MS, REPLAY_CACHE_LIMIT, this.#now())
  }

  /** A fresh nonce (also the challenge a caller sends a seed it does not know yet). */
  static nonce (): string {
    if (noncePoolOffset === noncePool.length) {
      randomFillSync(noncePool)
      noncePoolOffset = 0
    }
    const nonce = noncePool.toString('base64url', noncePoolOffset, noncePoolOffset + NONCE_BYTES)
    noncePoolOffset += NONCE_BYTES
    return nonce
  }

  /** The headers that authenticate `method path` with `body` as a call from this node to `target`. */
  signRequest (method: string, path: string, body: Uint8Array | undefined, target: string): Record<string, string> {
    const nonce = InternodeAuth.nonce()
    const timestamp = String(this.#now())
    const bodyDigest = digest(body ?? EMPTY)
    const signature = requestMac(this.#requestKeys[0]!, method, path, bodyDigest, target, this.nodeId, timestamp, nonce).toString('base64url')
    return {
      [SIGNED_HEADERS.caller]: this.nodeId,
      [SIGNED_HEADERS.target]: target,
      [SIGNED_HEADERS.timestamp]: timestamp,
      [SIGNED_HEADERS.nonce]: nonce,
      [SIGNED_HEADERS.bodyDigest]: bodyDigest,
      [SIGNED_HEADERS.signature]: signature
    }
  }

  /**
   * Check a request's headers (all but its body): the reason it is refused, or what the body check
   * needs. Admits the nonce only once the signature verified, so forged calls cannot fill the cache.
   */
  checkRequest (method: string, path: string, headers: IncomingHttpHeaders): CheckedRequest | string {
    const caller = headers[SIGNED_HEADERS.caller]
    const target = headers[SIGNED_HEADERS.target]
    const timestamp = headers[SIGNED_HEADERS.timestamp]
    const nonce = headers[SIGNED_HEADERS.nonce]
    const bodyDigest = headers[SIGNED_HEADERS.bodyDigest]
    const signature = headers[SIGNED_HEADERS.signature]
    if (typeof caller !== 'string' || caller === '' || typeof target !== 'string' || typeof timestamp !== 'string' ||
      typeof nonce !== 'string' || typeof bodyDigest !== 'string' || typeof signature !== 'string') {
      return 'the request signature headers are missing'
    }
    if (!TIMESTAMP_PATTERN.test(timestamp) || !NONCE_PATTERN.test(nonce) || !DIGEST_PATTERN.test(bodyDigest)) return 'the request signature headers are malformed'
    if (target !== this.nodeId) return `the request was signed for node ${target}, this is node ${this.nodeId}`
    const now = this.#now()
    const at = Number(timestamp)
    if (Math.abs(now - at) > SIGNATURE_WINDOW_MS) {
      return `the request timestamp is ${Math.round((now - at) / 1000)} s off this node's clock (at most ${SIGNATURE_WINDOW_MS / 1000} s either way)`
    }
    const given = macBytes(signature)
    const secret = given === undefined ? -1 : this.#requestKeys.findIndex((key) => timingSafeEqual(given, requestMac(key, method, path, bodyDigest, target, caller, timestamp, nonce)))
    if (secret === -1) return 'the request signature does not verify under this cluster\'s secret'
    if (!this.#seen.admit(at, nonce, now)) return 'the request was already received, or signed before this node\'s replay cache reaches back (a replay?)'
    return { nonce, bodyDigest, caller, secret }
  }

  /** The keys of a frame connection this node opens to `target` with an upgrade signed with `nonce` (frame-codec.ts). */
  callerFrameKeys (nonce: string, target: string): FrameKeys {
    return frameKeys(this.#requestKeys[0]!, nonce, this.nodeId, target)
  }

  /** The keys of a frame connection opened by the checked (accepted) upgrade `request`: under the secret that verified it. */
  acceptedFrameKeys (request: CheckedRequest): FrameKeys {
    return frameKeys(this.#requestKeys[request.secret]!, request.nonce, request.caller, this.nodeId)
  }

  /** True when `body` is the body the checked request's signature covers. */
  bodyMatches (request: CheckedRequest, body: Uint8Array): boolean {
    return digest(body) === request.bodyDigest
  }

  /** The SIGNED_HEADERS.signature of this node's answer to `method path` carrying `nonce`. */
  signAnswer (status: number, method: string, path: string, nonce: string, body: Uint8Array): string {
    return answerMac(this.#answerKeys[0]!, status, method, path, nonce, this.nodeId, digest(body)).toString('base64url')
  }

  /** True when `signature` shows that node `answerer`, which knows a secret of this cluster, gave this answer to this request. */
  answerIsFrom (answerer: string, status: number, method: string, path: string, nonce: string, body: Uint8Array, signature: unknown): boolean {
    const given = typeof signature === 'string' ? macBytes(signature) : undefined
    if (given === undefined) return false
    const bodyDigest = digest(body)
    return this.#answerKeys.some((key) => timingSafeEqual(given, answerMac(key, status, method, path, nonce, answerer, bodyDigest)))
  }
}

/** A well-formed nonce (a challenge's, before the answer is signed over it). */
export function isNonce (value: unknown): value is string {
  return typeof value === 'string' && NONCE_PATTERN.test(value)
}

function digest (body: Uint8Array): string {
  return hash('sha256', body, 'base64url')
}

function macBytes (text: string): Buffer | undefined {
  if (!DIGEST_PATTERN.test(text)) return undefined
  return Buffer.from(text, 'base64url')
}

// Fields are joined by newlines, which no header value, method or path can hold.
function requestMac (key: Buffer, method: string, path: string, bodyDigest: string, target: string, caller: string, timestamp: string, nonce: string): Buffer {
  return createHmac('sha256', key).update(`${method}\n${path}\n${bodyDigest}\n${target}\n${caller}\n${timestamp}\n${nonce}`).digest()
}

function answerMac (key: Buffer, status: number, method: string, path: string, nonce: string, answerer: string, bodyDigest: string): Buffer {
  return createHmac('sha256', key).update(`${status}\n${method}\n${path}\n${nonce}\n${answerer}\n${bodyDigest}`).digest()
}
