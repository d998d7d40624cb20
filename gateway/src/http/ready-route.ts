import type { Request, Response } from 'express'
import { GatewayError } from '../error/gateway-error.js'
import type { NotReady } from './readiness.js'

export interface ReadyRouteOptions {
  readonly nodeId: string
  /** True once shutdown began. */
  readonly stopping: () => boolean
  /** Why a cluster member cannot serve yet (undefined: it can); absent on a node that runs alone. */
  readonly readiness?: () => NotReady | undefined
}

/** The state GET /v1/ready reports: undefined when the node can serve. */
export function notReady (options: ReadyRouteOptions): NotReady | undefined {
  if (options.stopping()) return { reason: 'stopping', detail: `node ${options.nodeId} is shutting down: it finishes the requests in flight and takes no more` }
  return options.readiness?.()
}

/**
 * GET /v1/ready: 200 only when the node can serve client requests (it has the cluster's ring, it is
 * an up member, it is not stopping); else 503 with a problem whose `reason` says why. A load
 * balancer's or Kubernetes' readiness probe; /v1/health stays the liveness probe.
 */
export function readyRoute (options: ReadyRouteOptions) {
  return function ready (_req: Request, res: Response): void {
    const why = notReady(options)
    if (why !== undefined) throw new GatewayError('LEVELRING_NOT_READY', why.detail, { reason: why.reason })
    res.status(200).json({ status: 'ready', nodeId: options.nodeId })
  }
}
