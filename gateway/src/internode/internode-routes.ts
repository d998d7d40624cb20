import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TLSSocket } from 'node:tls'
import type { Logger } from 'pino'
import { decodeKeySegment } from '../http/key-segment.js'
import { GatewayError, hasCode } from '../error/gateway-error.js'
import { readBody } from '../http/read-body.js'
import { sendError } from '../http/problem.js'
import type { ReplicaStore } from '../replica/replica-store.js'
import { decodeObject, encodeObject } from '../replica/object-codec.js'
import { isNonce, SIGNED_HEADERS, type CheckedRequest, type InternodeAuth } from './internode-auth.js'
import {
  decodeForwardedWrite, DIGEST_MEDIA_TYPE, encodeWriteResult, HINT_FOR_QUERY, OBJECT_MEDIA_TYPE, PING_PATH, PROVE_PATH, REPLICAS_PATH, WRITE_RESULT_MEDIA_TYPE,
  WRITES_PATH, REBUILDING_STATUS, type PingAnswer, type ProveAnswer
} from './internode-protocol.js'
import type { WriteStamper } from './write-stamper.js'
import { readAsFallback, type HintKeeper } from '../handoff/hint-store.js'
import { FAULTS_PATH, faultRoutes, type FaultInjector } from './fault-injection.js'
import type { BodyCap } from './body-limits.js'
import { digestOf, NO_DIGEST, storedDigest } from '../coordination/replica-digest.js'
import type { KeyHashIndex } from '../anti-entropy/key-hash-index.js'

export interface InternodeRouteOptions {
  readonly nodeId: string
  readonly auth: InternodeAuth
  readonly store: ReplicaStore
  /** Stamps forwarded writes; absent on a node that is not a cluster member (writes are then refused). */
  readonly stamper?: WriteStamper
  /** The digest of the ring this node routes by, for ping; undefined without a cluster. */
  readonly ringDigest: () => string | undefined
  /** The largest body each endpoint accepts (body-limits.ts): over it, a 413 before anything else is done. */
  readonly bodyCap: (method: string, path: string) => BodyCap
  /**
   * Mutual TLS (--tls-ca): every internode call must come over a connection whose client certificate
   * the server verified against the cluster's CA; others are refused (401) before anything else.
   */
  readonly requireClientCertificate?: boolean
  readonly logger: Logger
  /** The fault-injection switch, on a node started with --enable-fault-injection (a test facility). */
  readonly faults?: FaultInjector
  /** Where PUT ...?hint-for= keeps hints and GET ...?hints=1 finds them (cluster members; handoff/hint-store.ts). */
  readonly hints?: HintKeeper
  /** Endpoints of later layers (anti-entropy), each owning the paths under its prefix. */
  readonly extensions?: readonly InternodeExtension[]
  /** True when this node's replica of `key` may be missing acknowledged writes (it is rebuilding): reads answer REBUILDING_STATUS. */
  readonly rebuilding?: (key: string) => boolean
  /** Anti-entropy's key hash index of `store`: digest reads are answered from it where it vouches (replica-digest.ts storedDigest). */
  readonly index?: KeyHashIndex
}

/**
 * Reads an authenticated call's body: at most `limit` bytes (413 past it, naming `key`), refused
 * (401) unless it is the body the call's signature covers. The only way internode handlers read bodies.
 */
export type BodyReader = (limit: number, key?: string) => Promise<Buffer>

/** Endpoints a later layer adds under one path prefix; the handler throws GatewayErrors like the built-in ones. */
export interface InternodeExtension {
  readonly prefix: string
  readonly handle: (req: IncomingMessage, res: ServerResponse, path: string, body: BodyReader) => Promise<void>
}

/** A handler of the internode endpoints in node's own terms (see internode-protocol.ts). */
export type InternodeHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>

/**
 * The internode endpoints. A call whose signature does not check out (internode-auth.ts: not from a
 * node of this cluster, meant for another node, stale, or a replay) is answered 401 before anything
 * else is looked at, so no client can read or write a replica directly; its body is refused (401)
 * when it is not the one signed. Every answer to a call that passed is signed by this node. The one
 * endpoint open without a signature is PROVE_PATH, whose answer only proves this node knows the
 * secret. Errors are problem+json like the public API's, so a coordinator can pass a replica's 503
 * on to its client.
 */
export function internodeRoutes (options: InternodeRouteOptions): InternodeHandler {
  const { auth, store, stamper, logger, faults } = options
  const faultHandler = faults === undefined ? undefined : faultRoutes(faults)

  async function replicas (req: IncomingMessage, res: ServerResponse, key: string, query: string, readVerified: BodyReader): Promise<void> {
    const params = new URLSearchParams(query)
    if (req.method === 'GET') {
      if (params.get('digest') === '1') { await digest(res, key, params.get('hints') === '1'); return }
      // A read sent to a fallback answers the hints it keeps for the key (sloppy quorum).
      const object = params.get('hints') === '1'
        ? (options.hints === undefined ? undefined : await readAsFallback(options.hints, key))
        : await store.read(key)
      const rebuilding = options.rebuilding?.(key) === true
      if (object === undefined) { res.writeHead(rebuilding ? REBUILDING_STATUS : 404, { 'Content-Length': '0' }).end(); return }
      const body = encodeObject(object)
      res.writeHead(rebuilding ? REBUILDING_STATUS : 200, { 'Content-Type': OBJECT_MEDIA_TYPE, 'Content-Length': String(body.length) }).end(body)
      return
    }
    if (req.method === 'PUT') {
      const body = await readVerified(Infinity, key)
      // The body is this call's own buffer: the set's values may be views of it.
      const object = decodeBody(key, () => decodeObject(key, body, false), 'a stored object')
      const owner = params.get(HINT_FOR_QUERY)
      if (owner !== null) {
        if (options.hints === undefined) throw new GatewayError('LEVELRING_ROUTE_NOT_FOUND', `node ${options.nodeId} keeps no hints (it is not a cluster member)`)
        await options.hints.add(owner, key, object, params.get('sync') === '1')
      } else {
        await store.merge(key, object, { sync: params.get('sync') === '1' }, body)
      }
      res.writeHead(204).end()
      return
    }
    notAllowed(res, 'GET, PUT')
  }

  /** A digest read: the version hash of what a read of the key would answer (its key hash index entry, or the stored bytes hashed). */
  async function digest (res: ServerResponse, key: string, hints: boolean): Promise<void> {
    const held = hints
      ? digestOf(options.hints === undefined ? undefined : await readAsFallback(options.hints, key))
      : storedDigest(store, options.index, key)
    const rebuilding = options.rebuilding?.(key) === true
    if (held === NO_DIGEST) { res.writeHead(rebuilding ? REBUILDING_STATUS : 404, { 'Content-Length': '0' }).end(); return }
    const body = Buffer.from(held, 'hex')
    res.writeHead(rebuilding ? REBUILDING_STATUS : 200, { 'Content-Type': DIGEST_MEDIA_TYPE, 'Content-Length': String(body.length) }).end(body)
  }

  async function writes (req: IncomingMessage, res: ServerResponse, key: string, readVerified: BodyReader): Promise<void> {
    if (req.method !== 'POST') { notAllowed(res, 'POST'); return }
    if (stamper === undefined) {
      throw new GatewayError('LEVELRING_ROUTE_NOT_FOUND', `node ${options.nodeId} is not a cluster member (started without --peers id=host:port); it stamps no forwarded writes`)
    }
    const body = await readVerified(Infinity, key)
    const write = decodeBody(key, () => decodeForwardedWrite(body), 'a forwarded write')
    const result = encodeWriteResult(await stamper.stampHere(key, write))
    res.writeHead(200, { 'Content-Type': WRITE_RESULT_MEDIA_TYPE, 'Content-Length': String(result.length) }).end(result)
  }

  /** PROVE_PATH: a caller that knows this node only by address asks it to sign its challenge (SIGNED_HEADERS.nonce). */
  function prove (req: IncomingMessage, res: ServerResponse): void {
    const nonce = req.headers[SIGNED_HEADERS.nonce]
    if (req.method !== 'GET') { notAllowed(res, 'GET'); return }
    if (!isNonce(nonce)) throw unauthorized('the challenge nonce is missing or malformed')
    signAnswers(res, (status, body) => auth.signAnswer(status, 'GET', PROVE_PATH, nonce, body))
    const body = Buffer.from(JSON.stringify({ node: options.nodeId } satisfies ProveAnswer))
    // A challenge carries no body: one sent anyway is not read, and the connection closes after the answer.
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(body.length), ...(req.complete ? {} : { Connection: 'close' }) }).end(body)
  }

  /** Reads the body (at most the endpoint's cap, or the handler's `limit` when smaller) and checks it is the one signed. */
  function verifiedBodyReader (req: IncomingMessage, checked: CheckedRequest, cap: BodyCap): BodyReader {
    return async (limit, key = '') => {
      let body: Buffer
      try {
        body = await readBody(req, Math.min(limit, cap.bytes), key)
      } catch (err) {
        if (hasCode(err, 'LEVELRING_VALUE_TOO_LARGE')) throw tooLarge({ endpoint: cap.endpoint, bytes: Math.min(limit, cap.bytes) }, key)
        throw err
      }
      if (!auth.bodyMatches(checked, body)) throw unauthorized('the body is not the one the request signature covers')
      return body
    }
  }

  return async function internodeHandler (req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const method = req.method ?? ''
      const url = req.url ?? ''
      if (options.requireClientCertificate === true) checkClientCertificate(req)
      const mark = url.indexOf('?')
      const path = mark === -1 ? url : url.slice(0, mark)
      const query = mark === -1 ? '' : url.slice(mark + 1)
      const cap = options.bodyCap(method, path)
      if (url === PROVE_PATH) { prove(req, res); return }
      const checked = auth.checkRequest(method, url, req.headers)
      if (typeof checked === 'string') throw unauthorized(checked)
      signAnswers(res, (status, body) => auth.signAnswer(status, method, url, checked.nonce, body))
      refuseOversize(req, cap)
      if (faults?.refuses(req.headers) === true) { req.socket.destroy(); return } // a cut link: dropped unanswered
      const readVerified = verifiedBodyReader(req, checked, cap)
      if (path === PING_PATH) {
        if (req.method !== 'GET') { notAllowed(res, 'GET'); return }
        const body = Buffer.from(JSON.stringify({ node: options.nodeId, ring: options.ringDigest() ?? null } satisfies PingAnswer))
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(body.length) }).end(body)
      } else if (path.startsWith(REPLICAS_PATH)) {
        await replicas(req, res, decodeKeySegment(path.slice(REPLICAS_PATH.length)), query, readVerified)
      } else if (path.startsWith(WRITES_PATH)) {
        await writes(req, res, decodeKeySegment(path.slice(WRITES_PATH.length)), readVerified)
      } else if (path === FAULTS_PATH && faultHandler !== undefined) {
        await faultHandler(req, res, readVerified)
      } else if (options.extensions?.some((e) => path.startsWith(e.prefix)) === true) {
        await options.extensions.find((e) => path.startsWith(e.prefix))!.handle(req, res, path, readVerified)
      } else {
        throw new GatewayError('LEVELRING_ROUTE_NOT_FOUND', `no internode endpoint ${req.method ?? ''} ${path}`)
      }
    } catch (err) {
      sendError(req, res, err, logger)
    }
  }
}

/** Connections whose client certificate passed: a keep-alive connection's later calls skip building it again. */
const verifiedSockets = new WeakSet<TLSSocket>()

/**
 * Refuse (401) a call whose connection carries no client certificate the server verified against the
 * cluster's CA (--tls-ca): node's TLS server requests one from every client and lets the handshake
 * finish without it, so public clients need none and only /internal/v1/ insists. `authorized` alone
 * is not enough: node counts a resumed TLS 1.3 session that never had a client certificate as
 * authorized, so the certificate itself must be there too.
 */
export function checkClientCertificate (req: IncomingMessage): void {
  const socket = req.socket as TLSSocket
  if (verifiedSockets.has(socket)) return
  const presented = typeof socket.getPeerCertificate === 'function' && Object.keys(socket.getPeerCertificate()).length > 0
  if (socket.authorized && presented) { verifiedSockets.add(socket); return }
  throw new GatewayError('LEVELRING_UNAUTHORIZED', presented
    ? `internode endpoints answer only the nodes of this cluster: the client certificate is not signed by the cluster's CA (${String(socket.authorizationError)}); give every node a certificate of the CA in --tls-ca (clients use /v1/)`
    : 'internode endpoints answer only the nodes of this cluster: they need a client certificate signed by the cluster\'s CA (--tls-ca), and this connection presented none (clients use /v1/)')
}

/** A 413 from the declared Content-Length, before anything of the body is read; a chunked body is cut by the reader. */
function refuseOversize (req: IncomingMessage, cap: BodyCap): void {
  const declared = req.headers['content-length']
  if (declared !== undefined && Number(declared) > cap.bytes) throw tooLarge(cap, '')
}

function tooLarge (cap: BodyCap, key: string): GatewayError {
  return new GatewayError('LEVELRING_VALUE_TOO_LARGE',
    `the body is larger than the most a legal ${cap.endpoint} call carries (${cap.bytes} bytes); nothing of it was used`,
    { ...(key === '' ? {} : { key }), limit: cap.bytes })
}

export function unauthorized (reason: string): GatewayError {
  return new GatewayError('LEVELRING_UNAUTHORIZED', `internode endpoints answer only the nodes of this cluster: ${reason} (clients use /v1/)`)
}

/**
 * Make every answer written to `res` carry SIGNED_HEADERS.signature. Internode answers are whole buffers
 * (writeHead then end, or setHeader then end), so the head is held back until end(), when the body
 * is known and signed. Streaming answers (res.write) are not supported here.
 */
function signAnswers (res: ServerResponse, sign: (status: number, body: Uint8Array) => string): void {
  const end = res.end.bind(res) as (body?: Uint8Array) => ServerResponse
  const writeHead = res.writeHead
  res.writeHead = ((status: number, headers?: Record<string, string>) => {
    res.statusCode = status
    for (const [name, value] of Object.entries(headers ?? {})) res.setHeader(name, value)
    return res
  }) as ServerResponse['writeHead']
  res.end = ((chunk?: Uint8Array | string) => {
    const body = chunk === undefined ? Buffer.alloc(0) : typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    res.setHeader(SIGNED_HEADERS.signature, sign(res.statusCode, body))
    res.writeHead = writeHead // end() writes the head through it
    return end(body)
  }) as ServerResponse['end']
}

function notAllowed (res: ServerResponse, allow: string): void {
  res.setHeader('Allow', allow)
  throw new GatewayError('LEVELRING_METHOD_NOT_ALLOWED', `use ${allow} on this internode endpoint`)
}

/** Run `decode`, turning bytes that do not decode into a 400 naming the key. */
export function decodeBody<T> (key: string, decode: () => T, what: string): T {
  try {
    return decode()
  } catch (err) {
    if (hasCode(err, 'LEVELRING_MALFORMED_BYTES') || hasCode(err, 'LEVELRING_CORRUPT_OBJECT')) {
      throw new GatewayError('LEVELRING_INVALID_PARAMETER', `the body is not ${what}: ${err.message}`, { key, parameter: 'body' })
    }
    throw err
  }
}
