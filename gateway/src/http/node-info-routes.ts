import type { Request, Response } from 'express'
import type { ClusterViewBody, HealthBody } from './api-types.js'
import type { Coordinator } from '../coordination/coordinator.js'

export interface NodeInfoOptions {
  readonly nodeId: string
  readonly coordinator: Coordinator
  readonly storage: string
  /** True once shutdown began: health answers 503 so load balancers stop sending requests. */
  readonly stopping: () => boolean
  readonly startedAt: number
  /** More sections of GET /v1/cluster from the layers beside the coordinator (anti-entropy). */
  readonly clusterDetails?: () => Record<string, unknown>
}

/** GET /v1/health: 200 while serving, 503 while shutting down. */
export function healthRoute (options: NodeInfoOptions) {
  return function health (_req: Request, res: Response): void {
    const stopping = options.stopping()
    const body: HealthBody = {
      status: stopping ? 'stopping' : 'ok',
      nodeId: options.nodeId,
      uptimeSeconds: (Date.now() - options.startedAt) / 1000,
      storage: options.storage
    }
    res.status(stopping ? 503 : 200).json(body)
  }
}

/** GET /v1/cluster: this node, its peers and the ring summary, from the coordinator. */
export function clusterRoute (options: NodeInfoOptions) {
  return function cluster (_req: Request, res: Response): void {
    const body: ClusterViewBody = { ...options.coordinator.clusterView(), ...options.clusterDetails?.() } as ClusterViewBody
    res.status(200).json(body)
  }
}
