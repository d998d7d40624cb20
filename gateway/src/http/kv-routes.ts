import type { IncomingMessage, ServerResponse } from 'node:http'
import { parse as parseQuery } from 'node:querystring'
import type { Logger } from 'pino'
import type { ApiContract } from './contract.js'
import { decodeKeySegment } from './key-segment.js'
import { validateParameters } from './request-parameters.js'
import type { DeleteObjectQuery, GetObjectQuery, PutObjectQuery, VersionedObjectBody } from './api-types.js'
import { decodeContext, encodeContext, type ContextSecrets } from '../version/causal-context.js'
import type { Coordinator } from '../coordination/coordinator.js'
import { GatewayError } from '../error/gateway-error.js'
import type { BearerAuth } from './bearer-auth.js'
import { readBody } from './read-body.js'
import { sendError } from './problem.js'
import type { QuorumSpec, ReadQuorum, WriteQuorum } from '../coordination/quorum.js'
import { isDeleted, liveSiblings, type StoredObject } from '../replica/stored-object.js'
import { dotKey, readContext, writeContext, type CausalContext, type Dot } from '../version/dvv.js'

/** Per-node defaults for the quorum parameters a request leaves out. */
export interface QuorumDefaults {
  readonly r: QuorumSpec
  readonly pr: QuorumSpec
  readonly w: QuorumSpec
  readonly dw: QuorumSpec
  readonly pw: QuorumSpec
  readonly timeoutMs: number
}

export interface KvRouteOptions {
  readonly coordinator: Coordinator
  readonly contract: ApiContract
  /** Signs (with the first) and checks (with any) X-Causal-Context tokens. */
  readonly contextSecret: ContextSecrets
  readonly maxValueBytes: number
  readonly defaults: QuorumDefaults
  readonly logger: Logger
  /** Present when authentication is on. */
  readonly auth?: BearerAuth
  /** Told how many live siblings each read answered (the node's metrics). */
  readonly observeSiblings?: (count: number) => void
}

/** The path prefix this handler serves; what follows it is the key segment. */
export const KV_PREFIX = '/v1/kv/'

/** Stored with a value written without a Content-Type. */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream'

const ALLOWED = 'GET, HEAD, PUT, DELETE'

/** A request handler in node's own terms. */
export type KvHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>

/**
 * GET, PUT and DELETE of /v1/kv/{key}, on node's request and response (server.ts says why). It reads
 * the raw path itself, so a malformed key is the contract's invalid-key problem, and answers every
 * failure itself as problem+json.
 */
export function kvRoutes (options: KvRouteOptions): KvHandler {
  const { coordinator, contract, contextSecret, maxValueBytes, defaults, logger, auth, observeSiblings } = options
  const getOp = contract.operation('getObject')
  const putOp = contract.operation('putObject')
  const deleteOp = contract.operation('deleteObject')

  function contextFrom (req: IncomingMessage, key: string): CausalContext | null {
    const token = req.headers['x-causal-context']
    return typeof token === 'string' ? decodeContext(key, token, contextSecret) : null
  }

  function objectBody (key: string, object: StoredObject): VersionedObjectBody {
    return {
      context: encodeContext(key, readContext(object), contextSecret),
      siblings: liveSiblings(object).map((s) => ({
        value: Buffer.from(s.value.value.buffer, s.value.value.byteOffset, s.value.value.byteLength).toString('base64'),
        contentType: s.value.contentType,
        lastModified: new Date(s.value.lastModified).toISOString()
      }))
    }
  }

  function send (res: ServerResponse, status: number, headers: Record<string, string>, body?: Uint8Array): void {
    if (body !== undefined) headers['Content-Length'] = String(body.length)
    res.writeHead(status, headers)
    res.end(body)
  }

  function sendObjectJson (res: ServerResponse, status: number, body: VersionedObjectBody, headers: Record<string, string>): void {
    send(res, status, { ...headers, 'X-Causal-Context': body.context, 'Content-Type': 'application/json' }, Buffer.from(JSON.stringify(body)))
  }

  async function get (req: IncomingMessage, res: ServerResponse, key: string, query: Record<string, unknown>): Promise<void> {
    const q = validateParameters(getOp, query, req.headers, key) as GetObjectQuery
    const quorum: ReadQuorum = {
      r: q.r ?? defaults.r, pr: q.pr ?? defaults.pr, notfoundOk: q.notfound_ok ?? true, timeoutMs: q.timeout_ms ?? defaults.timeoutMs,
      ...(q.lr === undefined ? {} : { lr: q.lr })
    }
    const object = await coordinator.get(key, quorum)
    const live = object === undefined ? [] : liveSiblings(object)
    observeSiblings?.(live.length)
    if (object === undefined || live.length === 0) {
      res.setHeader('Vary', 'Accept')
      if (object !== undefined && isDeleted(object)) res.setHeader('X-Causal-Context', encodeContext(key, readContext(object), contextSecret))
      throw new GatewayError('LEVELRING_NOT_FOUND',
        object === undefined ? 'the key holds no value' : 'the key was deleted; X-Causal-Context carries the delete\'s history',
        { key })
    }
    if (live.length > 1) { sendObjectJson(res, 300, objectBody(key, object), { Vary: 'Accept' }); return }
    const only = live[0]!
    const lastModified = new Date(only.value.lastModified).toUTCString()
    if (wantsJson(req.headers.accept)) { sendObjectJson(res, 200, objectBody(key, object), { Vary: 'Accept', ETag: etag(only.dot), 'Last-Modified': lastModified }); return }
    const value = only.value.value
    // Headers go to writeHead in one object built once: node's fast path, no per-header setHeader validation.
    res.writeHead(200, {
      Vary: 'Accept',
      ETag: etag(only.dot),
      'Last-Modified': lastModified,
      'X-Causal-Context': encodeContext(key, readContext(object), contextSecret),
      // The Content-Type exactly as written (express's res.type would append a charset).
      'Content-Type': only.value.contentType,
      'Content-Length': String(value.length)
    })
    res.end(value)
  }

  async function put (req: IncomingMessage, res: ServerResponse, key: string, query: Record<string, unknown>): Promise<void> {
    const q = validateParameters(putOp, query, req.headers, key) as PutObjectQuery
    const context = contextFrom(req, key)
    const value = await readBody(req, maxValueBytes, key)
    const contentType = req.headers['content-type'] ?? DEFAULT_CONTENT_TYPE
    const { object, dot } = await coordinator.put(key, { value, contentType }, context, writeQuorum(q))
    if (q.returnbody === true) { sendObjectJson(res, 200, objectBody(key, object), { ETag: etag(dot) }); return }
    send(res, 204, { ETag: etag(dot), 'X-Causal-Context': encodeContext(key, writeContext(object, dot), contextSecret) })
  }

  async function del (req: IncomingMessage, res: ServerResponse, key: string, query: Record<string, unknown>): Promise<void> {
    const q = validateParameters(deleteOp, query, req.headers, key) as DeleteObjectQuery
    const context = contextFrom(req, key)
    const { object, dot } = await coordinator.delete(key, context, writeQuorum(q))
    send(res, 204, { 'X-Causal-Context': encodeContext(key, writeContext(object, dot), contextSecret) })
  }

  function writeQuorum (q: { w?: QuorumSpec, dw?: QuorumSpec, pw?: QuorumSpec, lw?: QuorumSpec, timeout_ms?: number }): WriteQuorum {
    return { w: q.w ?? defaults.w, dw: q.dw ?? defaults.dw, pw: q.pw ?? defaults.pw, timeoutMs: q.timeout_ms ?? defaults.timeoutMs, ...(q.lw === undefined ? {} : { lw: q.lw }) }
  }

  return async function kvHandler (req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      auth?.check(req.headers)
      const url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? ''
      const mark = url.indexOf('?')
      const path = mark === -1 ? url : url.slice(0, mark)
      const handler = req.method === 'GET' || req.method === 'HEAD'
        ? get
        : req.method === 'PUT' ? put : req.method === 'DELETE' ? del : undefined
      if (handler === undefined) {
        res.setHeader('Allow', ALLOWED)
        throw new GatewayError('LEVELRING_METHOD_NOT_ALLOWED', `${req.method ?? ''} is not allowed on /v1/kv/{key}; use ${ALLOWED}`)
      }
      const key = decodeKeySegment(path.slice(KV_PREFIX.length))
      await handler(req, res, key, mark === -1 ? {} : parseQuery(url.slice(mark + 1)))
    } catch (err) {
      sendError(req, res, err, logger)
    }
  }
}

/** A strong ETag naming the version's dot. */
export function etag (dot: Dot): string {
  return `"${dotKey(dot)}"`
}

/** True when the Accept header names application/json with a non-zero quality. */
export function wantsJson (accept: string | undefined): boolean {
  if (accept === undefined) return false
  return accept.split(',').some((range) => {
    const [type, ...params] = range.split(';').map((p) => p.trim().toLowerCase())
    if (type !== 'application/json') return false
    const q = params.find((p) => p.startsWith('q='))
    return q === undefined || Number(q.slice(2)) > 0
  })
}
