import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import type { Problem, ProblemType } from './api-types.js'
import { GatewayError, hasCode, type ProblemCode } from '../error/gateway-error.js'

/** The RFC 9457 media type every error answer uses. */
export const PROBLEM_MEDIA_TYPE = 'application/problem+json'

interface ProblemKind { readonly type: ProblemType, readonly title: string, readonly status: number }

/**
 * One stable `type` URN per error code; the URNs are part of the contract (the Problem schema's enum
 * in openapi/levelring.yaml), so clients may branch on them. Titles never vary per occurrence.
 */
export const PROBLEM_KINDS: Readonly<Record<ProblemCode, ProblemKind>> = Object.freeze({
  LEVELRING_INVALID_KEY: { type: 'urn:levelring:problem:invalid-key', title: 'Invalid key', status: 400 },
  LEVELRING_INVALID_PARAMETER: { type: 'urn:levelring:problem:invalid-parameter', title: 'Invalid parameter', status: 400 },
  LEVELRING_INVALID_CONTEXT: { type: 'urn:levelring:problem:invalid-context', title: 'Invalid causal context', status: 400 },
  LEVELRING_UNAUTHORIZED: { type: 'urn:levelring:problem:unauthorized', title: 'Missing or invalid bearer token', status: 401 },
  LEVELRING_FORBIDDEN: { type: 'urn:levelring:problem:forbidden', title: 'Operator credential required', status: 403 },
  LEVELRING_NOT_FOUND: { type: 'urn:levelring:problem:not-found', title: 'Key not found', status: 404 },
  LEVELRING_ROUTE_NOT_FOUND: { type: 'urn:levelring:problem:route-not-found', title: 'No such endpoint', status: 404 },
  LEVELRING_METHOD_NOT_ALLOWED: { type: 'urn:levelring:problem:method-not-allowed', title: 'Method not allowed', status: 405 },
  LEVELRING_TOO_MANY_SIBLINGS: { type: 'urn:levelring:problem:too-many-siblings', title: 'Too many siblings', status: 409 },
  LEVELRING_VALUE_TOO_LARGE: { type: 'urn:levelring:problem:value-too-large', title: 'Value too large', status: 413 },
  LEVELRING_QUORUM_UNAVAILABLE: { type: 'urn:levelring:problem:quorum-unavailable', title: 'Quorum unavailable', status: 503 },
  LEVELRING_SHUTTING_DOWN: { type: 'urn:levelring:problem:shutting-down', title: 'Node shutting down', status: 503 },
  LEVELRING_NOT_READY: { type: 'urn:levelring:problem:not-ready', title: 'Node not ready to serve', status: 503 },
  LEVELRING_NOT_A_CLUSTER_MEMBER: { type: 'urn:levelring:problem:not-a-cluster-member', title: 'Not a cluster member', status: 409 },
  LEVELRING_CLUSTER_STATE: { type: 'urn:levelring:problem:cluster-state', title: 'Not possible in the cluster\'s current state', status: 409 },
  LEVELRING_PEER_UNREACHABLE: { type: 'urn:levelring:problem:peer-unreachable', title: 'Peer unreachable', status: 502 },
  LEVELRING_INTERNAL: { type: 'urn:levelring:problem:internal', title: 'Internal error', status: 500 }
})

/** The problem document for `error` on request path `instance`; any other error is a generic 500. */
export function problemFor (error: unknown, instance: string): Problem {
  const known = error instanceof GatewayError && Object.hasOwn(PROBLEM_KINDS, error.code) ? error : internal(error)
  const kind = PROBLEM_KINDS[known.code as ProblemCode]
  return { ...known.details, type: kind.type, title: kind.title, status: kind.status, detail: known.message, instance }
}

/** An unexpected error as a 500; a damaged stored object names its key (the node's log has the rest). */
function internal (error: unknown): GatewayError {
  if (hasCode(error, 'LEVELRING_CORRUPT_OBJECT') && typeof error.details.key === 'string') {
    return new GatewayError('LEVELRING_INTERNAL',
      'the stored object of this key does not decode; an operator must repair it from another replica or delete it', { key: error.details.key })
  }
  return new GatewayError('LEVELRING_INTERNAL', 'the node failed to serve the request; it is logged with this instance path')
}

/** Where sendProblem leaves the problem it answered, for the request's metrics (request-observer.ts). */
export const SENT_PROBLEM = Symbol('levelring.sentProblem')

/** A response that may carry the problem it answered. */
export type ProblemResponse = ServerResponse & { [SENT_PROBLEM]?: Problem }

/** Send `problem` as application/problem+json with its status (node's API: works under express and without). */
export function sendProblem (res: ServerResponse, problem: Problem, headers: Readonly<Record<string, string>> = {}): void {
  const body = Buffer.from(JSON.stringify(problem))
  res.statusCode = problem.status
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value)
  res.setHeader('Content-Type', PROBLEM_MEDIA_TYPE)
  res.setHeader('Content-Length', body.length)
  const sent: ProblemResponse = res
  sent[SENT_PROBLEM] = problem
  res.end(body)
}

/**
 * Answer a failed request: the problem for `error`, `WWW-Authenticate` on a 401, and
 * `Connection: close` when the request body was not read to its end (a refused upload is not
 * drained). Unexpected errors (500) are logged with the request. A response already under way is
 * cut; a request whose client is gone is dropped silently.
 */
export function sendError (req: IncomingMessage, res: ServerResponse, error: unknown, logger: Logger): void {
  if (res.destroyed) return // the client went away (e.g. aborted an upload): no one to answer, nothing to log
  const url = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/'
  const problem = problemFor(error, url.split('?')[0]!)
  if (problem.status >= 500 && problem.status !== 503) logger.error({ err: error, method: req.method, url }, 'request failed')
  if (res.headersSent) { res.destroy(); return }
  const headers: Record<string, string> = {}
  if (problem.status === 401) headers['WWW-Authenticate'] = 'Bearer realm="levelring"'
  if (!req.complete) headers.Connection = 'close'
  sendProblem(res, problem, headers)
}
