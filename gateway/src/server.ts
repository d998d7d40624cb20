import express, { type NextFunction, type Request, type Response } from 'express'
import type { Logger } from 'pino'
import type { ApiContract } from './api/contract.js'
import type { Coordinator } from './coordinator.js'
import { GatewayError } from './gateway-error.js'
import { bearerAuth } from './http/bearer-auth.js'
import { problemFor, sendProblem } from './problem.js'
import { clusterRoute, healthRoute } from './routes/node-info.js'
import { kvRoutes, type QuorumDefaults } from './routes/kv.js'

/** Everything the HTTP layer needs; no storage, no sockets. */
export interface AppOptions {
  readonly nodeId: string
  readonly coordinator: Coordinator
  readonly contract: ApiContract
  readonly contextSecret: Uint8Array
  readonly maxValueBytes: number
  readonly defaults: QuorumDefaults
  readonly logger: Logger
  /** Bearer tokens; empty or absent turns authentication off. */
  readonly authTokens?: readonly string[]
  readonly storage: string
  readonly stopping?: () => boolean
}

/** Paths that never need a token. */
const OPEN_PATHS = new Set(['/v1/health'])

/**
 * The express app of one node: auth, the routes of openapi/levelring.yaml, and one error handler
 * that answers every failure as application/problem+json. Returns an app not yet listening.
 */
export function createApp (options: AppOptions): express.Express {
  const app = express()
  app.disable('x-powered-by')
  app.disable('etag') // ETags name versions (dots); hashing bodies would only cost CPU
  app.set('query parser', 'simple')

  const info = {
    nodeId: options.nodeId,
    coordinator: options.coordinator,
    storage: options.storage,
    stopping: options.stopping ?? (() => false),
    startedAt: Date.now()
  }
  if (options.authTokens !== undefined && options.authTokens.length > 0) app.use(bearerAuth(options.authTokens, OPEN_PATHS))
  app.use('/v1/kv', kvRoutes(options))
  app.get('/v1/health', healthRoute(info))
  app.get('/v1/cluster', clusterRoute(info))
  app.all(['/v1/health', '/v1/cluster'], (req: Request, res: Response) => {
    res.setHeader('Allow', 'GET, HEAD')
    throw new GatewayError('LEVELRING_METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.path}; use GET`)
  })
  app.use((req: Request) => {
    throw new GatewayError('LEVELRING_ROUTE_NOT_FOUND', `no endpoint ${req.method} ${req.path}; see openapi/levelring.yaml`)
  })
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const problem = problemFor(err, req.originalUrl.split('?')[0]!)
    if (problem.status >= 500 && problem.status !== 503) {
      options.logger.error({ err, method: req.method, url: req.originalUrl }, 'request failed')
    }
    if (res.headersSent) { res.destroy(); return }
    const headers: Record<string, string> = {}
    if (problem.status === 401) headers['WWW-Authenticate'] = 'Bearer realm="levelring"'
    // A refused upload is not read to its end: close the connection instead of draining it.
    if (!req.complete) headers.Connection = 'close'
    sendProblem(res, problem, headers)
  })
  return app
}
