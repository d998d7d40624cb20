import { createHash, randomUUID } from 'node:crypto'
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import type { NodeMetrics, RequestOperation } from '../metrics/node-metrics.js'
import { SENT_PROBLEM, type ProblemResponse } from './problem.js'
import { REQUEST_ID_HEADER, REQUEST_ID_PATTERN, runAsRequest } from './request-context.js'

/** How an access log line shows a key: hashed (the same key gives the same hash on every node), replaced by `{key}`, or as it is. */
export type AccessLogKeys = 'hash' | 'redact' | 'plain'

export interface RequestObserverOptions {
  readonly logger: Logger
  /** Absent: no request metrics. */
  readonly metrics?: NodeMetrics
  /** One info line per answered request (client requests, and internode calls that serve one). */
  readonly accessLog: boolean
  readonly accessLogKeys: AccessLogKeys
}

/** Paths whose next segment is a key: the client's and the replicas' (internode/internode-protocol.ts). */
const KEY_PREFIXES = ['/v1/kv/', '/internal/v1/replicas/', '/internal/v1/writes/'] as const

const SIMPLE_ROUTES: ReadonlyMap<string, RequestOperation> = new Map([
  ['/v1/health', 'health'], ['/v1/ready', 'ready'], ['/v1/cluster', 'cluster'], ['/v1/ring', 'ring'], ['/v1/engines', 'engines'], ['/metrics', 'metrics']
])

/** Probes, scrapes and the dashboard's files: counted, never logged (they would drown the requests that matter). */
const UNLOGGED: ReadonlySet<RequestOperation> = new Set(['health', 'ready', 'metrics', 'ui'])

/** The operation a request is counted under: a fixed set of values, never the path itself. */
export function operationOf (method: string | undefined, url: string): RequestOperation {
  if (url.startsWith('/v1/kv/')) {
    return method === 'GET' || method === 'HEAD' ? 'get' : method === 'PUT' ? 'put' : method === 'DELETE' ? 'delete' : 'other'
  }
  if (url.startsWith('/internal/')) return 'internode'
  const mark = url.indexOf('?')
  const path = mark === -1 ? url : url.slice(0, mark)
  const simple = SIMPLE_ROUTES.get(path)
  if (simple !== undefined) return simple
  if (path === '/ui' || path.startsWith('/ui/')) return 'ui'
  if (path.startsWith('/v1/admin/')) return 'admin'
  return 'other'
}

/** `url` with its key segment hashed or redacted (the query, which holds no key, is kept). */
export function loggedPath (url: string, keys: AccessLogKeys): string {
  if (keys === 'plain') return url
  const prefix = KEY_PREFIXES.find((p) => url.startsWith(p))
  if (prefix === undefined) return url
  const mark = url.indexOf('?', prefix.length)
  const segment = url.slice(prefix.length, mark === -1 ? undefined : mark)
  const query = mark === -1 ? '' : url.slice(mark)
  if (keys === 'redact') return `${prefix}{key}${query}`
  let key = segment
  try { key = decodeURIComponent(segment) } catch { /* logged as sent */ }
  // Of the decoded key, so a key hashes alike whichever way a client percent-encoded it.
  return `${prefix}#${createHash('sha256').update(key).digest('hex').slice(0, 16)}${query}`
}

/**
 * Wrap the node's request listener with what watching it needs: the request's metrics (operation,
 * status, duration; quorum failures and sibling-limit refusals from the problem it answered) and an
 * access log line (method, path with the key hashed or redacted, status, duration, request id).
 * A client request keeps the X-Request-Id it came with (or gets one, answered in the same header);
 * the id is the async context of its work, so internode calls made for it carry it and the
 * replicas log it too. Internode calls without an id (gossip, anti-entropy, handoff) are not logged,
 * nor are probes, scrapes and the dashboard's files.
 * With neither metrics nor access logs, the listener is returned as it is.
 */
export function observeRequests (listener: RequestListener, options: RequestObserverOptions): RequestListener {
  const { logger, metrics, accessLog, accessLogKeys } = options
  if (metrics === undefined && !accessLog) return listener
  // One 'close' handler for every response (its state rides on the response): no closure per request.
  function answered (this: ObservedResponse): void {
    const { started, operation, id, req } = this[OBSERVED]!
    const seconds = (performance.now() - started) / 1000
    // 'close' without a finished answer: the client went away first.
    const status = this.writableFinished ? this.statusCode : 'aborted'
    if (metrics !== undefined) {
      metrics.request(operation, status, seconds)
      if (status === 503 || status === 409) countRefusal(metrics, operation, this)
    }
    if (id !== undefined) {
      const caller = req.headers['x-levelring-caller']
      logger.info({
        reqId: id, method: req.method, path: loggedPath(req.url ?? '/', accessLogKeys), status, ms: Math.round(seconds * 10_000) / 10,
        ...(operation === 'internode' && typeof caller === 'string' ? { caller } : {})
      }, 'request')
    }
  }
  return function observed (req: IncomingMessage, res: ServerResponse): void {
    const started = performance.now()
    const operation = operationOf(req.method, req.url ?? '/')
    let id: string | undefined
    if (accessLog && !UNLOGGED.has(operation)) {
      const given = req.headers[REQUEST_ID_HEADER]
      id = typeof given === 'string' && REQUEST_ID_PATTERN.test(given) ? given : operation === 'internode' ? undefined : randomUUID()
      if (id !== undefined && operation !== 'internode') res.setHeader('X-Request-Id', id)
    }
    const watched = res as ObservedResponse
    watched[OBSERVED] = { started, operation, id, req }
    watched.on('close', answered)
    if (id === undefined) listener(req, res)
    else runAsRequest(id, () => { listener(req, res) })
  }
}

/** Where a response keeps what its 'close' handler needs. */
const OBSERVED = Symbol('levelring.observed')

type ObservedResponse = ProblemResponse & {
  [OBSERVED]?: { readonly started: number, readonly operation: RequestOperation, readonly id: string | undefined, readonly req: IncomingMessage }
}

/** A client read or write the coordinator refused: a missed quorum (by parameter) or the sibling limit. */
function countRefusal (metrics: NodeMetrics, operation: RequestOperation, res: ProblemResponse): void {
  if (operation !== 'get' && operation !== 'put' && operation !== 'delete') return
  const problem = res[SENT_PROBLEM]
  if (problem?.type === 'urn:levelring:problem:quorum-unavailable') metrics.quorumFailed(String(problem.parameter))
  else if (problem?.type === 'urn:levelring:problem:too-many-siblings') metrics.siblingLimitRefused()
}
