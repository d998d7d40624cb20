import type { Request, Response } from 'express'
import type { RepairReport } from '../anti-entropy/anti-entropy-service.js'
import { GatewayError } from '../error/gateway-error.js'

export interface RepairRouteOptions {
  readonly nodeId: string
  /** Runs an anti-entropy round; absent on a node that is not a cluster member. */
  readonly repair: (() => Promise<RepairReport>) | undefined
  readonly stopping: () => boolean
}

/** POST /v1/admin/repair: one anti-entropy round over every partition this node replicates, answered with its report. */
export function repairRoute (options: RepairRouteOptions) {
  return async function repair (_req: Request, res: Response): Promise<void> {
    if (options.repair === undefined) {
      throw new GatewayError('LEVELRING_NOT_A_CLUSTER_MEMBER',
        `node ${options.nodeId} is not a cluster member (started without --peers id=host:port): it has no other replicas to compare with`)
    }
    if (options.stopping()) throw new GatewayError('LEVELRING_SHUTTING_DOWN', `node ${options.nodeId} is shutting down; ask another member to repair`)
    const report: RepairReport = await options.repair()
    res.status(200).json(report)
  }
}
