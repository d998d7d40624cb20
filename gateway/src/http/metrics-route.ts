import type { Request, Response } from 'express'
import { GatewayError } from '../error/gateway-error.js'
import type { NodeMetrics } from '../metrics/node-metrics.js'

/** GET /metrics: the node's metrics in Prometheus text format; a 404 problem on a node started with --metrics off. */
export function metricsRoute (metrics: NodeMetrics | undefined, nodeId: string) {
  return async function exposition (_req: Request, res: Response): Promise<void> {
    if (metrics === undefined) {
      throw new GatewayError('LEVELRING_ROUTE_NOT_FOUND', `node ${nodeId} was started with --metrics off: it keeps no metrics; restart it without that flag`)
    }
    const text = await metrics.exposition()
    res.status(200).setHeader('Content-Type', metrics.contentType)
    res.setHeader('Cache-Control', 'no-store')
    res.send(text)
  }
}
