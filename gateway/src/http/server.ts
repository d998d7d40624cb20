import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import express, { type NextFunction, type Request, type Response } from 'express'
import { GatewayError } from '../error/gateway-error.js'
import { BearerAuth } from './bearer-auth.js'
import { ADMIN_PREFIX, AdminAuth } from './admin-auth.js'
import { sendError } from './problem.js'
import { repairRoute } from './repair-route.js'
import { backupRoute, exportRoute, type NodeDump } from './backup-routes.js'
import { joinRoute, leaveRoute, removeRoute, replaceRoute, type MemberRoutesOptions } from './member-routes.js'
import { clusterRoute, healthRoute } from './node-info-routes.js'
import { PLACEMENT_PREFIX, placementRoute } from './placement-route.js'
import type { KeyReplicas } from '../ring/placement.js'
import type { RepairReport } from '../anti-entropy/anti-entropy-service.js'
import { KV_PREFIX, kvRoutes, type KvHandler, type KvRouteOptions } from './kv-routes.js'
import { INTERNODE_PREFIX } from '../internode/internode-protocol.js'
import type { InternodeHandler } from '../internode/internode-routes.js'
import type { NodeMetrics } from '../metrics/node-metrics.js'
import { readyRoute } from './ready-route.js'
import type { NotReady } from './readiness.js'
import { metricsRoute } from './metrics-route.js'
import { ringRoute, type RingBody } from './ring-route.js'
import { enginesRoute } from './engines-route.js'
import type { EngineShapesBody } from '../metrics/engine-shapes.js'
import { DASHBOARD_PATHS, dashboardRoute } from './dashboard-route.js'
import { observeRequests, type AccessLogKeys } from './request-observer.js'

/** Everything the HTTP layer needs (the kv routes' options, and the rest); no storage, no sockets. */
export interface AppOptions extends Omit<KvRouteOptions, 'auth'> {
  readonly nodeId: string
  /** Bearer tokens; empty or absent turns authentication off. */
  readonly authTokens?: readonly string[]
  /**
   * Operator tokens: the only bearer tokens /v1/admin/ accepts, also accepted wherever a client token
   * is. Empty or absent: /v1/admin/ answers loopback callers only.
   */
  readonly adminTokens?: readonly string[]
  readonly storage: string
  readonly stopping?: () => boolean
  /** The internode endpoints (/internal/v1/), each call signed with the cluster secret (internode/internode-auth.ts), not opened by bearer tokens. */
  readonly internode?: InternodeHandler
  /** POST /v1/admin/repair: an anti-entropy round now (cluster members only; absent: 409). */
  readonly repair?: () => Promise<RepairReport>
  /** More sections of GET /v1/cluster (anti-entropy). */
  readonly clusterDetails?: () => Record<string, unknown>
  /** GET /v1/placement/{key}: where a key lives (its partition and n primaries). */
  readonly placement?: (key: string) => KeyReplicas
  /** POST /v1/admin/join and /leave: the gossip member's lifecycle (cluster members only; absent: 409). */
  readonly lifecycle?: MemberRoutesOptions['lifecycle']
  /** GET /metrics and the request metrics; absent: the node keeps none (--metrics off). */
  readonly metrics?: NodeMetrics
  /** Access log lines at info (default on), and how they show keys (default hashed). */
  readonly accessLog?: boolean
  readonly accessLogKeys?: AccessLogKeys
  /** GET /v1/ready: why a cluster member cannot serve yet (absent on a node that runs alone). */
  readonly readiness?: () => NotReady | undefined
  /** GET /v1/ring: the partition owners. */
  readonly ring?: () => RingBody
  /** GET /v1/engines: every member's engine shape. */
  readonly engines?: () => Promise<EngineShapesBody>
  /** GET /v1/admin/backup and /export: the node's engine and objects, streamed (absent: 404). */
  readonly dump?: NodeDump
}

/** Paths that never need a token. */
const OPEN_PATHS = new Set(['/v1/health', '/v1/ready', ...DASHBOARD_PATHS])

/**
 * The node's HTTP surface: the request listener a server uses. Each request takes one path, chosen
 * here alone: the data paths, /v1/kv/{key} and /internal/v1/, go straight to their handlers, written
 * on node's request and response because express's per-request work (router, prototype swaps)
 * costs more than the rest of such a request; every other route of openapi/levelring.yaml (health,
 * cluster, admin) goes to an express app with one problem+json error handler. Nothing listens yet.
 */
export function createApp (options: AppOptions): RequestListener {
  const adminTokens = options.adminTokens ?? []
  const auth = options.authTokens !== undefined && options.authTokens.length > 0 ? new BearerAuth([...options.authTokens, ...adminTokens]) : undefined
  const adminAuth = new AdminAuth(adminTokens.length > 0 ? new BearerAuth(adminTokens) : undefined, auth)
  const metrics = options.metrics
  const kv: KvHandler = kvRoutes({ ...options, auth, observeSiblings: metrics === undefined ? undefined : (n) => { metrics.siblingsRead(n) } })
  const app = express()
  app.disable('x-powered-by')
  app.disable('etag') // ETags name versions (dots); hashing bodies would only cost CPU
  app.set('query parser', 'simple')

  const info = {
    nodeId: options.nodeId,
    coordinator: options.coordinator,
    storage: options.storage,
    stopping: options.stopping ?? (() => false),
    startedAt: Date.now(),
    clusterDetails: options.clusterDetails
  }
  app.use(ADMIN_PREFIX, adminAuth.middleware()) // before the client check: it tells a client token (403) from none (401)
  if (auth !== undefined) app.use(auth.middleware(OPEN_PATHS))
  app.get('/v1/health', healthRoute(info))
  app.get('/v1/cluster', clusterRoute(info))
  app.get('/v1/ready', readyRoute({ nodeId: options.nodeId, stopping: info.stopping, readiness: options.readiness }))
  if (options.ring !== undefined) app.get('/v1/ring', ringRoute(options.ring))
  if (options.engines !== undefined) app.get('/v1/engines', enginesRoute(options.engines))
  app.get('/metrics', metricsRoute(metrics, options.nodeId))
  app.get([...DASHBOARD_PATHS], dashboardRoute())
  app.all(['/v1/health', '/v1/cluster', '/v1/ready', '/v1/ring', '/v1/engines', '/metrics', ...DASHBOARD_PATHS], (req: Request, res: Response) => {
    res.setHeader('Allow', 'GET, HEAD')
    throw new GatewayError('LEVELRING_METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.path}; use GET`)
  })
  if (options.placement !== undefined) app.use(PLACEMENT_PREFIX, placementRoute(options.placement))
  app.post('/v1/admin/repair', repairRoute({ nodeId: options.nodeId, repair: options.repair, stopping: info.stopping }))
  app.all('/v1/admin/repair', (req: Request, res: Response) => {
    res.setHeader('Allow', 'POST')
    throw new GatewayError('LEVELRING_METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.path}; use POST`)
  })
  const membershipAdmin: MemberRoutesOptions = { nodeId: options.nodeId, lifecycle: options.lifecycle, stopping: info.stopping }
  app.post('/v1/admin/join', joinRoute(membershipAdmin))
  app.post('/v1/admin/leave', leaveRoute(membershipAdmin))
  app.post('/v1/admin/remove', removeRoute(membershipAdmin))
  app.post('/v1/admin/replace', replaceRoute(membershipAdmin))
  app.all(['/v1/admin/join', '/v1/admin/leave', '/v1/admin/remove', '/v1/admin/replace'], (req: Request, res: Response) => {
    res.setHeader('Allow', 'POST')
    throw new GatewayError('LEVELRING_METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.path}; use POST`)
  })
  app.get('/v1/admin/backup', backupRoute(options.dump))
  app.get('/v1/admin/export', exportRoute(options.dump))
  app.all(['/v1/admin/backup', '/v1/admin/export'], (req: Request, res: Response) => {
    res.setHeader('Allow', 'GET')
    throw new GatewayError('LEVELRING_METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.path}; use GET`)
  })
  app.use((req: Request) => {
    throw new GatewayError('LEVELRING_ROUTE_NOT_FOUND', `no endpoint ${req.method} ${req.path}; see openapi/levelring.yaml`)
  })
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    sendError(req, res, err, options.logger)
  })
  const internode = options.internode
  const route = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.url?.startsWith(KV_PREFIX) === true) void kv(req, res)
    else if (internode !== undefined && req.url?.startsWith(INTERNODE_PREFIX) === true) void internode(req, res)
    else app(req, res)
  }
  return observeRequests(route, { logger: options.logger, metrics, accessLog: options.accessLog ?? true, accessLogKeys: options.accessLogKeys ?? 'hash' })
}
