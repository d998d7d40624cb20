import { IncomingMessage, ServerResponse, type RequestListener } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { GatewayError, hasCode } from '../error/gateway-error.js'
import { decodeKeySegment } from '../http/key-segment.js'
import { problemFor, PROBLEM_MEDIA_TYPE } from '../http/problem.js'
import { loggedPath, type AccessLogKeys } from '../http/request-observer.js'
import { REQUEST_ID_PATTERN, runAsRequest } from '../http/request-context.js'
import type { NodeMetrics } from '../metrics/node-metrics.js'
import { readAsFallback } from '../handoff/hint-store.js'
import { decodeObject, encodeObject } from '../replica/object-codec.js'
import { SIGNED_HEADERS } from './internode-auth.js'
import {
  decodeRequest, encodeAnswerFrame, FRAME_HEAD_BYTES, FRAME_MAC_BYTES, FrameReader, FRAMES_PATH, FRAMES_PROTOCOL, openReceived,
  type FrameAnswer, type FrameKeys, type ReceivedFrame, type FrameRequest
} from './frame-codec.js'
import { digestOf, NO_DIGEST, storedDigest } from '../coordination/replica-digest.js'
import {
  decodeForwardedWrite, DIGEST_MEDIA_TYPE, encodeWriteResult, HINT_FOR_QUERY, OBJECT_MEDIA_TYPE, REBUILDING_STATUS, REPLICAS_PATH, WRITE_RESULT_MEDIA_TYPE, WRITES_PATH
} from './internode-protocol.js'
import { checkClientCertificate, decodeBody, unauthorized, type InternodeRouteOptions } from './internode-routes.js'

/** Room in a request frame beyond its body: method, path with the key, request id and content type. */
const REQUEST_FRAME_OVERHEAD = FRAME_HEAD_BYTES + FRAME_MAC_BYTES + 4 * 2 + 64 * 1024

export interface FrameServerOptions extends InternodeRouteOptions {
  /** Told each call's status and duration, as the HTTP listener tells it of internode requests. */
  readonly metrics?: Pick<NodeMetrics, 'request'>
  /** Log each call that carries a client request's id, as the access log does for internode requests. */
  readonly accessLog?: boolean
  readonly accessLogKeys?: AccessLogKeys
}

/**
 * The server side of frame connections: the listener's 'upgrade' handler for FRAMES_PATH. The upgrade
 * is checked like every internode call (mutual TLS when required, then the request signature: target,
 * time window, replay cache) and answered 101 with a signed answer; from then on each request frame
 * must carry the next sequence number and a MAC under the connection's request key, or the
 * connection is closed. Frames carry the hot replica calls (replica and digest reads, replica writes, hints,
 * forwarded writes), served exactly as their HTTP endpoints serve them; every other call stays on HTTP.
 */
export class FrameServer {
  readonly #options: FrameServerOptions
  readonly #connections = new Set<FrameConnection>()
  readonly #maxFrameBytes: number
  #closing = false

  constructor (options: FrameServerOptions) {
    this.#options = options
    const largest = Math.max(options.bodyCap('PUT', REPLICAS_PATH + 'k').bytes, options.bodyCap('POST', WRITES_PATH + 'k').bytes)
    this.#maxFrameBytes = largest + REQUEST_FRAME_OVERHEAD
  }

  /** The listener's 'upgrade' handler: opens a frame connection, or answers why not and closes. */
  upgrade (req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const refuse = (error: unknown): void => { writeProblem(socket, problemFor(error, (req.url ?? '/').split('?')[0]!)) }
    try {
      if (req.url !== FRAMES_PATH || req.method !== 'GET' || String(req.headers.upgrade).toLowerCase() !== FRAMES_PROTOCOL) {
        throw new GatewayError('LEVELRING_ROUTE_NOT_FOUND', `no upgrade to ${String(req.headers.upgrade)} at ${req.method ?? ''} ${req.url ?? ''}`)
      }
      if (this.#closing) throw new GatewayError('LEVELRING_SHUTTING_DOWN', 'this node is shutting down')
      const { auth, faults } = this.#options
      if (this.#options.requireClientCertificate === true) checkClientCertificate(req)
      const checked = auth.checkRequest('GET', FRAMES_PATH, req.headers)
      if (typeof checked === 'string') throw unauthorized(checked)
      if (!auth.bodyMatches(checked, Buffer.alloc(0))) throw unauthorized('an upgrade carries no body')
      if (faults?.refuses(req.headers) === true) { socket.destroy(); return } // a cut link: dropped unanswered
      const signature = auth.signAnswer(101, 'GET', FRAMES_PATH, checked.nonce, Buffer.alloc(0))
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${FRAMES_PROTOCOL}\r\n${SIGNED_HEADERS.signature}: ${signature}\r\n\r\n`)
      const connection = new FrameConnection(this, socket, checked.caller, auth.acceptedFrameKeys(checked), this.#maxFrameBytes)
      this.#connections.add(connection)
      socket.once('close', () => this.#connections.delete(connection))
      if (head.length > 0) connection.receive(head)
    } catch (err) {
      if (hasCode(err, 'LEVELRING_UNAUTHORIZED') || hasCode(err, 'LEVELRING_ROUTE_NOT_FOUND') || hasCode(err, 'LEVELRING_SHUTTING_DOWN')) refuse(err)
      else { this.#options.logger.error({ err }, 'frame upgrade failed'); refuse(err) }
    }
  }

  /** Refuse new connections, let calls in flight answer for at most `graceMs`, then close every connection. */
  async close (graceMs: number): Promise<void> {
    this.#closing = true
    await Promise.all([...this.#connections].map(async (c) => c.close(graceMs)))
  }

  /** Serve one verified request from `caller`: its answer, a problem for any failure. */
  async serve (caller: string, request: FrameRequest): Promise<FrameAnswer> {
    const started = performance.now()
    const { metrics, accessLog, logger } = this.#options
    const id = accessLog === true && REQUEST_ID_PATTERN.test(request.requestId) ? request.requestId : undefined
    const answer = id === undefined ? await this.#answer(request) : await runAsRequest(id, async () => this.#answer(request))
    const seconds = (performance.now() - started) / 1000
    metrics?.request('internode', answer.status, seconds)
    if (id !== undefined) {
      logger.info({ reqId: id, method: request.method, path: loggedPath(request.path, this.#options.accessLogKeys ?? 'hash'), status: answer.status, ms: Math.round(seconds * 10_000) / 10, caller }, 'request')
    }
    return answer
  }

  /** The answer to a request frame of `bytes` bytes, longer than any call this node takes. */
  tooLarge (bytes: number): FrameAnswer {
    const limit = this.#maxFrameBytes
    const problem = problemFor(new GatewayError('LEVELRING_VALUE_TOO_LARGE',
      `the call is larger (${bytes} bytes) than the most a legal internode call to this node carries (${limit} bytes); nothing of it was used`, { limit }), FRAMES_PATH)
    return { status: problem.status, contentType: PROBLEM_MEDIA_TYPE, body: Buffer.from(JSON.stringify(problem)) }
  }

  /** True when calls from `caller` are cut by fault injection: its connection is dropped unanswered. */
  refuses (caller: string): boolean {
    return this.#options.faults?.blocks(caller) === true
  }

  async #answer (request: FrameRequest): Promise<FrameAnswer> {
    const mark = request.path.indexOf('?')
    const path = mark === -1 ? request.path : request.path.slice(0, mark)
    const params = new URLSearchParams(mark === -1 ? '' : request.path.slice(mark + 1))
    try {
      const cap = this.#options.bodyCap(request.method, path)
      if (request.body.length > cap.bytes) {
        throw new GatewayError('LEVELRING_VALUE_TOO_LARGE', `the body is larger than the most a legal ${cap.endpoint} call carries (${cap.bytes} bytes); nothing of it was used`, { limit: cap.bytes })
      }
      if (path.startsWith(REPLICAS_PATH)) return await this.#replicas(request.method, decodeKeySegment(path.slice(REPLICAS_PATH.length)), params, request.body)
      if (path.startsWith(WRITES_PATH) && request.method === 'POST') return await this.#write(decodeKeySegment(path.slice(WRITES_PATH.length)), request.body)
      throw new GatewayError('LEVELRING_ROUTE_NOT_FOUND', `no internode frame endpoint ${request.method} ${path} (other calls go over HTTP)`)
    } catch (err) {
      const problem = problemFor(err, path)
      if (problem.status >= 500 && problem.status !== 503) this.#options.logger.error({ err, method: request.method, url: request.path }, 'request failed')
      return { status: problem.status, contentType: PROBLEM_MEDIA_TYPE, body: Buffer.from(JSON.stringify(problem)) }
    }
  }

  async #replicas (method: string, key: string, params: URLSearchParams, body: Buffer): Promise<FrameAnswer> {
    const { store, hints, rebuilding } = this.#options
    if (method === 'GET' && params.get('digest') === '1') {
      // A digest read: the version hash of what a read of the key would answer (its key hash index entry, or the stored bytes hashed).
      const held = params.get('hints') === '1'
        ? digestOf(hints === undefined ? undefined : await readAsFallback(hints, key))
        : storedDigest(store, this.#options.index, key)
      const behind = rebuilding?.(key) === true
      if (held === NO_DIGEST) return { status: behind ? REBUILDING_STATUS : 404, contentType: '', body: EMPTY }
      return { status: behind ? REBUILDING_STATUS : 200, contentType: DIGEST_MEDIA_TYPE, body: Buffer.from(held, 'hex') }
    }
    if (method === 'GET') {
      // A read sent to a fallback answers the hints it keeps for the key (sloppy quorum).
      const object = params.get('hints') === '1'
        ? (hints === undefined ? undefined : await readAsFallback(hints, key))
        : await store.read(key)
      const behind = rebuilding?.(key) === true
      if (object === undefined) return { status: behind ? REBUILDING_STATUS : 404, contentType: '', body: EMPTY }
      return { status: behind ? REBUILDING_STATUS : 200, contentType: OBJECT_MEDIA_TYPE, body: encodeObject(object) }
    }
    if (method !== 'PUT') throw new GatewayError('LEVELRING_METHOD_NOT_ALLOWED', 'use GET, PUT on this internode endpoint')
    // The frame's buffer is this call's own: the set's values may be views of it, and its bytes are stored as they are when the merge keeps them.
    const object = decodeBody(key, () => decodeObject(key, body, false), 'a stored object')
    const sync = params.get('sync') === '1'
    const owner = params.get(HINT_FOR_QUERY)
    if (owner !== null) {
      if (hints === undefined) throw new GatewayError('LEVELRING_ROUTE_NOT_FOUND', `node ${this.#options.nodeId} keeps no hints (it is not a cluster member)`)
      await hints.add(owner, key, object, sync)
    } else {
      await store.merge(key, object, { sync }, body)
    }
    return { status: 204, contentType: '', body: EMPTY }
  }

  async #write (key: string, body: Buffer): Promise<FrameAnswer> {
    const stamper = this.#options.stamper
    if (stamper === undefined) {
      throw new GatewayError('LEVELRING_ROUTE_NOT_FOUND', `node ${this.#options.nodeId} is not a cluster member (started without --peers id=host:port); it stamps no forwarded writes`)
    }
    const write = decodeBody(key, () => decodeForwardedWrite(body), 'a forwarded write')
    return { status: 200, contentType: WRITE_RESULT_MEDIA_TYPE, body: encodeWriteResult(await stamper.stampHere(key, write)) }
  }
}

const EMPTY = Buffer.alloc(0)

/** One accepted frame connection: verifies each request frame in order, serves it, and answers in frames. */
class FrameConnection {
  readonly #server: FrameServer
  readonly #socket: Duplex
  readonly #caller: string
  readonly #keys: FrameKeys
  readonly #reader: FrameReader
  #expected = 1
  #inFlight = 0
  #closing = false
  #corked = false
  #drained: (() => void) | undefined

  constructor (server: FrameServer, socket: Duplex, caller: string, keys: FrameKeys, maxFrameBytes: number) {
    this.#server = server
    this.#socket = socket
    this.#caller = caller
    this.#keys = keys
    this.#reader = new FrameReader(maxFrameBytes)
    if ('setNoDelay' in socket && typeof socket.setNoDelay === 'function') (socket.setNoDelay as (on: boolean) => void)(true)
    socket.on('data', (chunk: Buffer) => { this.receive(chunk) })
    socket.on('error', () => { socket.destroy() })
    socket.once('close', () => { this.#drained?.() })
  }

  receive (chunk: Buffer): void {
    let frames: ReceivedFrame[]
    try { frames = this.#reader.push(chunk) } catch { this.#socket.destroy(); return }
    for (const frame of frames) {
      const id = frame.id
      if (frame.skipped !== undefined) {
        // Longer than any call this node takes: refused like its HTTP twin (413), in sequence; its bytes were never read.
        if (id !== this.#expected || this.#closing) { this.#socket.destroy(); return }
        this.#expected++
        this.#send(id, this.#server.tooLarge(frame.skipped))
        continue
      }
      // A frame that does not verify, or out of sequence (a replay, a drop), ends the connection: nothing of it is served.
      const payload = openReceived(this.#keys.request, frame)
      if (payload === undefined || id !== this.#expected || this.#closing || this.#server.refuses(this.#caller)) { this.#socket.destroy(); return }
      this.#expected++
      let request: FrameRequest
      try { request = decodeRequest(payload) } catch { this.#socket.destroy(); return }
      this.#inFlight++
      void this.#server.serve(this.#caller, request).then((answer) => { this.#send(id, answer) }).finally(() => {
        if (--this.#inFlight === 0) this.#drained?.()
      })
    }
  }

  async close (graceMs: number): Promise<void> {
    this.#closing = true
    if (this.#inFlight > 0 && !this.#socket.destroyed) {
      await new Promise<void>((resolve) => {
        const cut = setTimeout(resolve, graceMs)
        this.#drained = () => { clearTimeout(cut); resolve() }
      })
    }
    this.#socket.end()
    this.#socket.destroy()
  }

  /** Answers completed in one turn of the event loop leave in one write. */
  #send (id: number, answer: FrameAnswer): void {
    if (this.#socket.destroyed) return
    if (!this.#corked) {
      this.#corked = true
      this.#socket.cork()
      process.nextTick(() => { this.#corked = false; this.#socket.uncork() })
    }
    this.#socket.write(encodeAnswerFrame(this.#keys.answer, id, answer))
  }
}

/**
 * The listener's 'upgrade' handler: FRAMES_PATH opens a frame connection; any other request that asks
 * for an upgrade (a client offering h2c, a WebSocket) is served by `listener` as the plain HTTP/1.1
 * request it also is, as node does when nobody listens for upgrades, on a connection closed after the
 * answer. Its body is what its Content-Length says; a chunked one is refused (400).
 */
export function upgradeListener (frames: FrameServer, listener: RequestListener): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    if (req.url === FRAMES_PATH) { frames.upgrade(req, socket, head); return }
    socket.on('error', () => { socket.destroy() })
    if (req.headers['transfer-encoding'] !== undefined) {
      writeProblem(socket, problemFor(new GatewayError('LEVELRING_INVALID_PARAMETER',
        'a chunked body with an Upgrade header is not served: send the request without Upgrade, or with a Content-Length', { parameter: 'Upgrade' }), (req.url ?? '/').split('?')[0]!))
      return
    }
    // node ends an upgrade request at its head: the body goes to a request of our own.
    const plain = new IncomingMessage(socket as Socket)
    Object.assign(plain, {
      method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders,
      httpVersion: req.httpVersion, httpVersionMajor: req.httpVersionMajor, httpVersionMinor: req.httpVersionMinor
    })
    const res = new ServerResponse(plain)
    res.shouldKeepAlive = false
    res.assignSocket(socket as Socket)
    res.once('finish', () => { res.detachSocket(socket as Socket); socket.end() })
    let missing = Number(req.headers['content-length'] ?? 0)
    const feed = (chunk: Buffer): void => {
      const part = chunk.subarray(0, missing)
      missing -= part.length
      if (part.length > 0) plain.push(part)
      if (missing === 0) { socket.off('data', feed); plain.complete = true; plain.push(null) }
    }
    if (!Number.isSafeInteger(missing) || missing <= 0) { plain.complete = true; plain.push(null) } else { socket.on('data', feed); if (head.length > 0) feed(head) }
    listener(plain, res)
  }
}

/** An HTTP problem answer on a socket that was not upgraded, then the end of it. */
function writeProblem (socket: Duplex, problem: ReturnType<typeof problemFor>): void {
  const body = Buffer.from(JSON.stringify(problem))
  socket.write(`HTTP/1.1 ${problem.status} ${problem.title}\r\nContent-Type: ${PROBLEM_MEDIA_TYPE}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n` +
    `${problem.status === 401 ? 'WWW-Authenticate: Bearer realm="levelring"\r\n' : ''}\r\n`)
  socket.end(body)
}
