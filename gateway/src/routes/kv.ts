import type { NextFunction, Request, Response } from 'express'
import type { ApiContract } from '../api/contract.js'
import { decodeKeySegment } from '../api/key-segment.js'
import { validateParameters } from '../api/request-parameters.js'
import type { DeleteObjectQuery, GetObjectQuery, PutObjectQuery, VersionedObjectBody } from '../api/types.js'
import { decodeContext, encodeContext } from '../causal-context.js'
import type { Coordinator } from '../coordinator.js'
import { GatewayError } from '../gateway-error.js'
import { readBody } from '../http/read-body.js'
import type { QuorumSpec, ReadQuorum, WriteQuorum } from '../quorum.js'
import { isDeleted, liveSiblings, type StoredObject } from '../storage/stored-object.js'
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
  /** Signs and checks X-Causal-Context tokens. */
  readonly contextSecret: Uint8Array
  readonly maxValueBytes: number
  readonly defaults: QuorumDefaults
}

/** Stored with a value written without a Content-Type. */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream'

const ALLOWED = 'GET, HEAD, PUT, DELETE'

/**
 * The handler mounted at /v1/kv: GET, PUT and DELETE of /v1/kv/{key}. It reads the raw path itself
 * (rather than through a route parameter) so that a malformed key is answered with the contract's
 * invalid-key problem instead of the router's generic decoding error.
 */
export function kvRoutes (options: KvRouteOptions) {
  const { coordinator, contract, contextSecret, maxValueBytes, defaults } = options
  const getOp = contract.operation('getObject')
  const putOp = contract.operation('putObject')
  const deleteOp = contract.operation('deleteObject')

  function contextFrom (req: Request, key: string): CausalContext | null {
    const token = req.headers['x-causal-context']
    return typeof token === 'string' ? decodeContext(key, token, contextSecret) : null
  }

  function sendContext (res: Response, key: string, context: CausalContext): void {
    res.setHeader('X-Causal-Context', encodeContext(key, context, contextSecret))
  }

  function objectBody (key: string, object: StoredObject): VersionedObjectBody {
    return {
      context: encodeContext(key, readContext(object), contextSecret),
      siblings: liveSiblings(object).map((s) => ({
        value: Buffer.from(s.value.value).toString('base64'),
        contentType: s.value.contentType,
        lastModified: new Date(s.value.lastModified).toISOString()
      }))
    }
  }

  function sendObjectJson (res: Response, status: number, body: VersionedObjectBody): void {
    res.status(status).setHeader('X-Causal-Context', body.context)
    res.type('application/json').send(JSON.stringify(body))
  }

  async function get (req: Request, res: Response, key: string): Promise<void> {
    const q = validateParameters(getOp, req.query, req.headers, key) as GetObjectQuery
    const quorum: ReadQuorum = { r: q.r ?? defaults.r, pr: q.pr ?? defaults.pr, timeoutMs: q.timeout_ms ?? defaults.timeoutMs }
    const object = await coordinator.get(key, quorum)
    res.setHeader('Vary', 'Accept')
    const live = object === undefined ? [] : liveSiblings(object)
    if (object === undefined || live.length === 0) {
      if (object !== undefined && isDeleted(object)) sendContext(res, key, readContext(object))
      throw new GatewayError('LEVELRING_NOT_FOUND',
        object === undefined ? 'the key holds no value' : 'the key was deleted; X-Causal-Context carries the delete\'s history',
        { key })
    }
    if (live.length > 1) { sendObjectJson(res, 300, objectBody(key, object)); return }
    const only = live[0]!
    res.setHeader('ETag', etag(only.dot))
    res.setHeader('Last-Modified', new Date(only.value.lastModified).toUTCString())
    if (wantsJson(req.headers.accept)) { sendObjectJson(res, 200, objectBody(key, object)); return }
    sendContext(res, key, readContext(object))
    res.status(200)
    // node's setHeader, not express's res.type/res.set: those would append a charset to the stored type.
    res.setHeader('Content-Type', only.value.contentType)
    res.end(only.value.value)
  }

  async function put (req: Request, res: Response, key: string): Promise<void> {
    const q = validateParameters(putOp, req.query, req.headers, key) as PutObjectQuery
    const context = contextFrom(req, key)
    const value = await readBody(req, maxValueBytes, key)
    const contentType = req.headers['content-type'] ?? DEFAULT_CONTENT_TYPE
    const { object, dot } = await coordinator.put(key, { value, contentType }, context, writeQuorum(q))
    res.setHeader('ETag', etag(dot))
    if (q.returnbody === true) { sendObjectJson(res, 200, objectBody(key, object)); return }
    sendContext(res, key, writeContext(object, dot))
    res.status(204).end()
  }

  async function del (req: Request, res: Response, key: string): Promise<void> {
    const q = validateParameters(deleteOp, req.query, req.headers, key) as DeleteObjectQuery
    const context = contextFrom(req, key)
    const { object, dot } = await coordinator.delete(key, context, writeQuorum(q))
    sendContext(res, key, writeContext(object, dot))
    res.status(204).end()
  }

  function writeQuorum (q: { w?: QuorumSpec, dw?: QuorumSpec, pw?: QuorumSpec, timeout_ms?: number }): WriteQuorum {
    return { w: q.w ?? defaults.w, dw: q.dw ?? defaults.dw, pw: q.pw ?? defaults.pw, timeoutMs: q.timeout_ms ?? defaults.timeoutMs }
  }

  return async function kvHandler (req: Request, res: Response, next: NextFunction): Promise<void> {
    try {
      if (req.path === '/' && !req.originalUrl.startsWith(`${req.baseUrl}/`)) { next(); return } // '/v1/kv' itself
      const handler = req.method === 'GET' || req.method === 'HEAD'
        ? get
        : req.method === 'PUT' ? put : req.method === 'DELETE' ? del : undefined
      if (handler === undefined) {
        res.setHeader('Allow', ALLOWED)
        throw new GatewayError('LEVELRING_METHOD_NOT_ALLOWED', `${req.method} is not allowed on /v1/kv/{key}; use ${ALLOWED}`)
      }
      await handler(req, res, decodeKeySegment(req.path.slice(1)))
    } catch (err) {
      next(err)
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
