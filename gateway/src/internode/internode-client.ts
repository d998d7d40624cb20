import type { Logger } from 'pino'
import { Pool } from 'undici'
import type { CoordinatedWrite } from '../coordination/coordinator.js'
import { GatewayError, hasCode, type GatewayErrorCode } from '../error/gateway-error.js'
import { PROBLEM_KINDS } from '../http/problem.js'
import type { Membership } from '../membership/membership.js'
import type { PeerReachability } from '../membership/reachability.js'
import { decodeObject, encodeObject } from '../replica/object-codec.js'
import type { StoredObject } from '../replica/stored-object.js'
import { InternodeAuth, SIGNATURE_WINDOW_MS, SIGNED_HEADERS } from './internode-auth.js'
import {
  decodeWriteResult, DIGEST_MEDIA_TYPE, DIGEST_QUERY, encodeForwardedWrite, HINT_FOR_QUERY, HINTS_QUERY, keyPath, OBJECT_MEDIA_TYPE, PING_PATH, PROVE_PATH, REPLICAS_PATH,
  WRITE_MEDIA_TYPE, WRITE_RESULT_MEDIA_TYPE, WRITES_PATH, type ForwardedWrite, type PingAnswer, type ProveAnswer,
  REBUILDING_STATUS
} from './internode-protocol.js'
import type { FaultInjector } from './fault-injection.js'
import { ChannelError, FRAME_REFUSED, FRAME_TIMEOUT, FrameChannel } from './frame-channel.js'
import { currentRequestId, REQUEST_ID_HEADER } from '../http/request-context.js'
import { internodeEndpoint } from '../metrics/internode-endpoint.js'
import type { NodeMetrics } from '../metrics/node-metrics.js'
import type { NodeTls } from '../node/node-tls.js'
import { NO_DIGEST, type ReplicaDigest } from '../coordination/replica-digest.js'

/** A replica's answer to a read: its stored object (undefined: none) and whether it may be missing acknowledged writes. */
export interface ReplicaAnswer {
  readonly object: StoredObject | undefined
  readonly rebuilding: boolean
}

/** A replica's answer to a digest read: its digest of the key (NO_DIGEST: it holds nothing) and whether it is rebuilding. */
export interface DigestAnswer {
  readonly digest: ReplicaDigest
  readonly rebuilding: boolean
}

/** A digest's length on the wire: a SHA-1. */
const DIGEST_BYTES = 20

/** Connections kept per peer: more than the concurrent calls one node makes to another under load, fewer than a peer's socket budget. */
export const CONNECTIONS_PER_PEER = 64

/** How long opening a connection may take: a dead host fails fast instead of holding a request. */
export const CONNECT_TIMEOUT_MS = 2_000

/** Idle connections are closed after this (below the server's 5 s keep-alive, so the client closes first). */
export const IDLE_CONNECTION_MS = 4_000

export interface InternodeClientOptions {
  readonly membership: Membership
  readonly auth: InternodeAuth
  /** Told the outcome of every call. */
  readonly reachability: PeerReachability
  readonly logger: Logger
  /** The test facility that cuts this node off from chosen members (--enable-fault-injection). */
  readonly faults?: FaultInjector
  /** Told each call's peer, endpoint, duration and outcome. */
  readonly metrics?: Pick<NodeMetrics, 'internodeCall'>
  /**
   * TLS is cluster-wide: with it every peer is called over https, its server certificate verified
   * against `ca` (node's trusted roots without one), and this node's certificate presented as the
   * client certificate (which peers started with --tls-ca require on /internal/v1/).
   */
  readonly tls?: NodeTls
  /**
   * How replica reads and writes, hints and forwarded writes travel: over one frame connection per
   * peer (frame-codec.ts; the default), or each as its own HTTP/1.1 request. Every other call is HTTP.
   */
  readonly transport?: 'frames' | 'http'
}

interface Answer {
  readonly status: number
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly body: Buffer
}

/**
 * An internode call that got no usable answer: the connection failed, the peer did not answer in
 * time, refused our request signature, gave an answer not signed with the cluster secret, or
 * answered something this node cannot read. It counts as a replica that did not answer.
 * `notApplied` is true when the peer certainly did not act on the call (connection or signature
 * refused), so a write may go to another replica without risking a duplicate.
 */
export function replicaUnreachable (node: string, address: string, reason: string, notApplied: boolean, options?: { cause?: unknown }): GatewayError {
  return new GatewayError('LEVELRING_REPLICA_UNREACHABLE', `replica ${node} at ${address} did not answer: ${reason}`,
    { node, address, reason, notApplied }, options)
}

/** The detail of a 401 that refused this node's client certificate (mutual TLS), not its request signature. */
function refusedCertificate (answer: Answer): string | undefined {
  let detail = ''
  try { detail = String((JSON.parse(answer.body.toString('utf8')) as { detail?: unknown }).detail ?? '') } catch { /* not a problem document */ }
  return /client certificate/.test(detail) ? detail : undefined
}

/**
 * Errors of a connection that was never made, or whose TLS handshake failed (the peer's certificate
 * is not trusted, or it speaks no TLS): the request cannot have been received.
 */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_TLS_CERT_ALTNAME_INVALID', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_SIGNATURE_FAILURE'])

/**
 * Failures that mean nothing listens at the address (the process is gone, or the host): the failure
 * detector takes the member down at once. A call that timed out, even one never sent because its
 * connection was still opening, is not one of them: a hung or slow member is the phi detector's to judge.
 */
const NOTHING_LISTENING = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND'])

const EMPTY = Buffer.alloc(0)

/** `object`'s encoding: `bytes` (encodeObject(object) already at hand) as a Buffer view, or encoded now. */
function encodedObject (object: StoredObject, bytes: Uint8Array | undefined): Buffer {
  if (bytes === undefined) return encodeObject(object)
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

const CODE_OF_TYPE = new Map<string, GatewayErrorCode>(
  Object.entries(PROBLEM_KINDS).map(([code, kind]) => [kind.type, code as GatewayErrorCode]))

/** Problem members that are details of the failure (carried over into the rethrown error). */
const DETAIL_MEMBERS = ['key', 'parameter', 'limit', 'siblings', 'needed', 'answered', 'replicas'] as const

/**
 * Calls other nodes' internode endpoints over undici keep-alive connection pools, one pool per
 * peer address. Every call is signed for the member it goes to and carries a timeout; its answer is
 * used only once its signature shows it comes from that member (internode-auth.ts); its outcome is
 * reported to the reachability tracker. A call resolves with the answer, rejects with a
 * LEVELRING_REPLICA_UNREACHABLE error when the peer gave none it could use, or with the
 * GatewayError the peer answered (e.g. its 503).
 */
export class InternodeClient {
  readonly #options: InternodeClientOptions
  readonly #pools = new Map<string, Pool>()
  /** Frame connections by `node@address`: the upgrade is signed for the node. */
  readonly #channels = new Map<string, FrameChannel>()
  readonly #framed: boolean
  #closed = false

  constructor (options: InternodeClientOptions) {
    this.#options = options
    this.#framed = (options.transport ?? 'frames') === 'frames'
    // A member that moved gets a pool at its new address; drop pools nobody lives at.
    options.membership.onChange(() => {
      const members = options.membership.members()
      const live = new Set(members.map((m) => m.address))
      for (const [address, pool] of this.#pools) {
        if (!live.has(address)) { this.#pools.delete(address); void pool.close() }
      }
      const channels = new Set(members.map((m) => `${m.id}@${m.address}`))
      for (const [at, channel] of this.#channels) {
        if (!channels.has(at)) { this.#channels.delete(at); channel.close() }
      }
    })
  }

  /**
   * The node's stored set of `key` (tombstones included), or undefined when it holds none. Never repairs.
   * With `includeHints` (the node is a fallback for the key) the hints it keeps for the key instead.
   */
  async readReplica (node: string, key: string, timeoutMs: number, includeHints = false): Promise<StoredObject | undefined> {
    return (await this.readReplicaAnswer(node, key, timeoutMs, includeHints)).object
  }

  /** Like readReplica, and whether the node said its copy may be missing acknowledged writes (REBUILDING_STATUS). */
  async readReplicaAnswer (node: string, key: string, timeoutMs: number, includeHints = false): Promise<ReplicaAnswer> {
    const answer = await this.#call(node, 'GET', keyPath(REPLICAS_PATH, key) + (includeHints ? `?${HINTS_QUERY}` : ''), undefined, timeoutMs, this.#framed)
    if (answer.status === 404) return { object: undefined, rebuilding: false }
    if (answer.status === REBUILDING_STATUS && answer.body.length === 0) return { object: undefined, rebuilding: true }
    this.#expect(node, answer, answer.status === REBUILDING_STATUS ? REBUILDING_STATUS : 200, OBJECT_MEDIA_TYPE)
    return { object: decodeObject(key, answer.body), rebuilding: answer.status === REBUILDING_STATUS }
  }

  /** The node's digest of `key` (coordination/replica-digest.ts) instead of its set, and whether it is rebuilding. */
  async readReplicaDigest (node: string, key: string, timeoutMs: number, includeHints = false): Promise<DigestAnswer> {
    const answer = await this.#call(node, 'GET', `${keyPath(REPLICAS_PATH, key)}?${DIGEST_QUERY}${includeHints ? `&${HINTS_QUERY}` : ''}`, undefined, timeoutMs, this.#framed)
    if (answer.status === 404) return { digest: NO_DIGEST, rebuilding: false }
    if (answer.status === REBUILDING_STATUS && answer.body.length === 0) return { digest: NO_DIGEST, rebuilding: true }
    this.#expect(node, answer, answer.status === REBUILDING_STATUS ? REBUILDING_STATUS : 200, DIGEST_MEDIA_TYPE)
    if (answer.body.length !== DIGEST_BYTES) {
      throw replicaUnreachable(node, this.#options.membership.member(node)?.address ?? '?', `it answered a digest of ${answer.body.length} bytes, not ${DIGEST_BYTES}`, false)
    }
    return { digest: answer.body.toString('hex'), rebuilding: answer.status === REBUILDING_STATUS }
  }

  /** Merge `object` into the node's replica of `key`; with `sync`, resolves only once the node fsynced it. */
  async applyReplica (node: string, key: string, object: StoredObject, sync: boolean, timeoutMs: number, bytes?: Uint8Array): Promise<void> {
    const path = keyPath(REPLICAS_PATH, key) + (sync ? '?sync=1' : '')
    const answer = await this.#call(node, 'PUT', path, { type: OBJECT_MEDIA_TYPE, bytes: encodedObject(object, bytes) }, timeoutMs, this.#framed)
    this.#expect(node, answer, 204)
  }

  /**
   * Have the node keep `object` as a hint for `owner` (sloppy quorum: it stands in for the down
   * primary `owner`); with `sync`, resolves only once the node fsynced it.
   */
  async applyHint (node: string, owner: string, key: string, object: StoredObject, sync: boolean, timeoutMs: number, bytes?: Uint8Array): Promise<void> {
    const path = `${keyPath(REPLICAS_PATH, key)}?${HINT_FOR_QUERY}=${encodeURIComponent(owner)}${sync ? '&sync=1' : ''}`
    const answer = await this.#call(node, 'PUT', path, { type: OBJECT_MEDIA_TYPE, bytes: encodedObject(object, bytes) }, timeoutMs, this.#framed)
    this.#expect(node, answer, 204)
  }

  /** Ask the node to stamp a write of `key` and replicate it; resolves once its W replicas acknowledged. */
  async forwardWrite (node: string, key: string, write: ForwardedWrite, timeoutMs: number): Promise<CoordinatedWrite> {
    const answer = await this.#call(node, 'POST', keyPath(WRITES_PATH, key), { type: WRITE_MEDIA_TYPE, bytes: encodeForwardedWrite(write) }, timeoutMs, this.#framed)
    this.#expect(node, answer, 200, WRITE_RESULT_MEDIA_TYPE)
    return decodeWriteResult(key, answer.body)
  }

  /**
   * POST a binary body to one of the node's internode endpoints that a later layer added (anti-entropy);
   * resolves with the answer's body (empty for a 204), or rejects like every call here.
   */
  async post (node: string, path: string, body: Buffer, mediaType: string, timeoutMs: number): Promise<Buffer> {
    const answer = await this.#call(node, 'POST', path, { type: mediaType, bytes: body }, timeoutMs)
    if (answer.status === 204) return Buffer.alloc(0)
    this.#expect(node, answer, 200, mediaType)
    return answer.body
  }

  /**
   * POST to a node known only by its address (a seed a joining node has not heard from yet), like
   * post(). The seed first has to prove it knows the cluster secret (it signs a fresh challenge,
   * PROVE_PATH); only then is the call signed, for the id it proved. So an address that is not a
   * node of this cluster never receives a signed call, and cannot replay one anywhere. Resolves with
   * the answer's body; rejects with a LEVELRING_REPLICA_UNREACHABLE error when it gives none, or
   * cannot prove it knows the secret.
   */
  async postToAddress (address: string, path: string, body: Buffer, mediaType: string, timeoutMs: number): Promise<Buffer> {
    const seed = `seed ${address}`
    if (this.#closed) throw replicaUnreachable(seed, address, 'this node is shutting down', true)
    let answer: Answer
    let id: string
    try {
      id = await this.#challenge(address, timeoutMs)
      const headers = this.#options.auth.signRequest('POST', path, body, id)
      const sent = await this.#send(address, 'POST', path, headers, { type: mediaType, bytes: body }, timeoutMs)
      answer = this.#authenticated(seed, address, 'POST', path, headers, sent, id)
    } catch (err) {
      if (hasCode(err, 'LEVELRING_REPLICA_UNREACHABLE')) throw err
      const code = (err as { code?: string }).code ?? ''
      throw replicaUnreachable(seed, address, `${code !== '' ? code + ': ' : ''}${(err as Error).message}`, NOT_CONNECTED.has(code), { cause: err })
    } finally {
      // Pools are kept per member address; a seed's is dropped unless a member lives there.
      if (!this.#options.membership.members().some((m) => m.address === address)) {
        const pool = this.#pools.get(address)
        this.#pools.delete(address)
        void pool?.close()
      }
    }
    if (answer.status === 204) return Buffer.alloc(0)
    const type = String(answer.headers['content-type'] ?? '').split(';')[0]!.trim()
    if (answer.status !== 200 || type !== mediaType) {
      throw replicaUnreachable(`${id} (${seed})`, address, `it answered ${answer.status} ${type || '(no type)'}: ${answer.body.subarray(0, 200).toString('utf8')}`, answer.status === 401)
    }
    return answer.body
  }

  /** Who answers at the node's address and which ring it routes by. */
  async ping (node: string, timeoutMs: number): Promise<PingAnswer> {
    const answer = await this.#call(node, 'GET', PING_PATH, undefined, timeoutMs)
    this.#expect(node, answer, 200, 'application/json')
    return JSON.parse(answer.body.toString('utf8')) as PingAnswer
  }

  /** Close every pool and frame connection: waits for calls in flight at most `graceMs`, then cuts them. */
  async close (graceMs = 1_000): Promise<void> {
    this.#closed = true
    const pools = [...this.#pools.values()]
    this.#pools.clear()
    const channels = [...this.#channels.values()]
    this.#channels.clear()
    for (const channel of channels) channel.close()
    await Promise.all(pools.map(async (pool) => {
      const cut = setTimeout(() => { void pool.destroy() }, graceMs)
      try { await pool.close() } catch { /* destroyed */ } finally { clearTimeout(cut) }
    }))
  }

  async #call (node: string, method: string, path: string, body: { type: string, bytes: Buffer } | undefined, timeoutMs: number, framed = false): Promise<Answer> {
    const metrics = this.#options.metrics
    if (metrics === undefined) return this.#exchange(node, method, path, body, timeoutMs, framed)
    const started = performance.now()
    try {
      const answer = await this.#exchange(node, method, path, body, timeoutMs, framed)
      metrics.internodeCall(node, internodeEndpoint(method, path), (performance.now() - started) / 1000, answer.status >= 500 || answer.status === 401 ? 'error' : 'ok')
      return answer
    } catch (err) {
      metrics.internodeCall(node, internodeEndpoint(method, path), (performance.now() - started) / 1000, 'unreachable')
      throw err
    }
  }

  /** One authenticated call to member `node` and its authenticated answer (see #call), on its frame connection when `framed`. */
  async #exchange (node: string, method: string, path: string, body: { type: string, bytes: Buffer } | undefined, timeoutMs: number, framed: boolean): Promise<Answer> {
    const member = this.#options.membership.member(node)
    if (member === undefined) throw replicaUnreachable(node, '?', 'it is not a member of the cluster', true)
    if (this.#closed) throw replicaUnreachable(node, member.address, 'this node is shutting down', true)
    if (this.#options.faults?.blocks(node) === true) {
      // As a refused connection: nothing was sent.
      const reason = 'cut off by fault injection (a test partition)'
      if (this.#options.reachability.failed(node, reason, true) === 'up') this.#options.logger.warn({ peer: node, address: member.address, reason }, 'peer unreachable')
      throw replicaUnreachable(node, member.address, reason, true)
    }
    const delay = this.#options.faults?.delayFor(node) ?? 0
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay)) // emulated distance (a test facility)
    const requestId = currentRequestId() // the client request this call serves, for the peer's access log
    let answer: Answer
    let headers: Record<string, string> | undefined
    try {
      if (framed) {
        answer = await this.#channel(node, member.address).call(
          { method, path, requestId: requestId ?? '', contentType: body?.type ?? '', body: body?.bytes ?? EMPTY }, timeoutMs)
      } else {
        headers = this.#options.auth.signRequest(method, path, body?.bytes, node)
        if (requestId !== undefined) headers[REQUEST_ID_HEADER] = requestId
        answer = await this.#send(member.address, method, path, headers, body, timeoutMs)
      }
    } catch (err) {
      if (err instanceof ChannelError && err.code === FRAME_REFUSED && err.answer !== undefined) {
        if (err.answer.status === 401) throw this.#refused(node, member.address, err.answer)
        this.#options.logger.warn({ peer: node, address: member.address, status: err.answer.status }, 'a peer refused or did not authenticate a frame connection')
        throw replicaUnreachable(node, member.address, `it did not open a frame connection: ${err.message}`, true)
      }
      const code = (err as { code?: string }).code ?? ''
      const notApplied = err instanceof ChannelError ? !err.sent || NOT_CONNECTED.has(code) : NOT_CONNECTED.has(code)
      const reason = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === FRAME_TIMEOUT
        ? `no answer within ${timeoutMs} ms`
        : `${code !== '' ? code + ': ' : ''}${(err as Error).message}`
      const before = this.#options.reachability.failed(node, reason, NOTHING_LISTENING.has(code))
      // A peer that was up and stops answering is news; one not reached yet (still starting) is not.
      if (before === 'up') this.#options.logger.warn({ peer: node, address: member.address, reason }, 'peer unreachable')
      else if (before === 'unknown') this.#options.logger.info({ peer: node, address: member.address, reason }, 'peer not reachable yet')
      throw replicaUnreachable(node, member.address, reason, notApplied, { cause: err })
    }
    // A frame's MAC already showed the member answered it; an HTTP answer carries its own signature.
    if (headers !== undefined) answer = this.#authenticated(node, member.address, method, path, headers, answer, node)
    if (this.#options.reachability.answered(node)) this.#options.logger.info({ peer: node, address: member.address }, 'peer reachable')
    return answer
  }

  /** One request on the pool of `address`; rejects with undici's error when no answer came. */
  async #send (address: string, method: string, path: string, headers: Record<string, string>, body: { type: string, bytes: Buffer } | undefined, timeoutMs: number): Promise<Answer> {
    const res = await this.#pool(address).request({
      method,
      path,
      headers: body === undefined ? headers : { ...headers, 'content-type': body.type },
      body: body?.bytes,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs
    })
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) }
  }

  /**
   * The answer to a call signed with `headers`, once its signature shows node `answerer` gave it; a
   * LEVELRING_REPLICA_UNREACHABLE error otherwise (an unsigned 401: the peer refused our signature).
   */
  #authenticated (name: string, address: string, method: string, path: string, headers: Record<string, string>, answer: Answer, answerer: string): Answer {
    const { auth, logger } = this.#options
    if (auth.answerIsFrom(answerer, answer.status, method, path, headers[SIGNED_HEADERS.nonce]!, answer.body, answer.headers[SIGNED_HEADERS.signature])) return answer
    if (answer.status === 401) throw this.#refused(name, address, answer)
    logger.warn({ peer: name, address, status: answer.status }, 'ignored an internode answer not signed with the cluster secret')
    throw replicaUnreachable(name, address, `its answer (${answer.status}) is not signed by node ${answerer} with the cluster secret; nothing in it was used`, false)
  }

  /**
   * Ask `address` to sign a fresh challenge: resolves with the node id it proved, rejects when the
   * answer is not signed with a secret of this cluster. Sends nothing a listener could reuse.
   */
  async #challenge (address: string, timeoutMs: number): Promise<string> {
    const nonce = InternodeAuth.nonce()
    const answer = await this.#send(address, 'GET', PROVE_PATH, { [SIGNED_HEADERS.nonce]: nonce, [SIGNED_HEADERS.caller]: this.#options.auth.nodeId }, undefined, timeoutMs)
    let id: unknown
    try { id = (JSON.parse(answer.body.toString('utf8')) as ProveAnswer).node } catch { id = undefined }
    if (answer.status === 401 && refusedCertificate(answer) !== undefined) throw this.#refused(`seed ${address}`, address, answer)
    if (answer.status !== 200 || typeof id !== 'string' || id === '' ||
      !this.#options.auth.answerIsFrom(id, answer.status, 'GET', PROVE_PATH, nonce, answer.body, answer.headers[SIGNED_HEADERS.signature])) {
      throw replicaUnreachable(`seed ${address}`, address,
        `it could not prove it knows the cluster secret (its answer to a challenge is not signed with it: not a node of this cluster, or started with another --cluster-secret-file); nothing was sent to it`, true)
    }
    return id
  }

  /** Check an answer: the expected status and media type, or the peer's problem rethrown. */
  #expect (node: string, answer: Answer, status: number, mediaType?: string): void {
    const type = String(answer.headers['content-type'] ?? '').split(';')[0]!.trim()
    if (answer.status === status && (mediaType === undefined || type === mediaType)) return
    const address = this.#options.membership.member(node)?.address ?? '?'
    if (answer.status === 401) throw this.#refused(node, address, answer)
    if (type === 'application/problem+json') {
      const problem = JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>
      const code = CODE_OF_TYPE.get(String(problem.type))
      if (code !== undefined && code !== 'LEVELRING_INTERNAL' && code !== 'LEVELRING_ROUTE_NOT_FOUND') {
        const details: Record<string, string | number> = {}
        for (const name of DETAIL_MEMBERS) {
          const v = problem[name]
          if (typeof v === 'string' || typeof v === 'number') details[name] = v
        }
        throw new GatewayError(code, String(problem.detail ?? `replica ${node} refused the request`), details)
      }
    }
    throw replicaUnreachable(node, address, `it answered ${answer.status} ${type || '(no type)'}: ${answer.body.subarray(0, 200).toString('utf8')}`, false)
  }

  /** A 401: the peer refused our request signature, or (mutual TLS) our client certificate, as its problem's detail says. */
  #refused (node: string, address: string, answer: Answer): GatewayError {
    const detail = refusedCertificate(answer)
    if (detail !== undefined) {
      this.#options.logger.error({ peer: node, address, detail },
        'peer refused our client certificate: every node needs a certificate signed by the CA the others were started with (--tls-ca)')
      return replicaUnreachable(node, address, `it refused this node's client certificate: ${detail}`, true)
    }
    this.#options.logger.error({ peer: node, address },
      `peer refused our request signature: the nodes were started with different --cluster-secret-file contents, or their clocks differ by more than ${SIGNATURE_WINDOW_MS / 1000} s`)
    return replicaUnreachable(node, address, 'it refused this node\'s request signature (different cluster secret, or clocks apart?)', true)
  }

  /** The frame connection to member `node` at `address`, opened when there is none usable. */
  #channel (node: string, address: string): FrameChannel {
    const at = `${node}@${address}`
    let channel = this.#channels.get(at)
    if (channel === undefined || !channel.usable) {
      channel = new FrameChannel({ auth: this.#options.auth, node, address, tls: this.#options.tls, connectTimeoutMs: CONNECT_TIMEOUT_MS })
      this.#channels.set(at, channel)
    }
    return channel
  }

  #pool (address: string): Pool {
    let pool = this.#pools.get(address)
    if (pool === undefined) {
      const tls = this.#options.tls
      pool = new Pool(`${tls === undefined ? 'http' : 'https'}://${address}`, {
        ...(tls === undefined ? {} : { connect: { ca: tls.ca, cert: tls.cert, key: tls.key } }),
        connections: CONNECTIONS_PER_PEER,
        connectTimeout: CONNECT_TIMEOUT_MS,
        keepAliveTimeout: IDLE_CONNECTION_MS,
        keepAliveMaxTimeout: IDLE_CONNECTION_MS
      })
      this.#pools.set(address, pool)
    }
    return pool
  }
}
