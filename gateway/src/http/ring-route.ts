import type { Request, Response } from 'express'
import type { RingState } from '../ring/ring-state.js'
import { waitingFor } from '../ring/ring-state.js'

/** GET /v1/ring: which member owns each partition, compactly (an index into `members` per partition). */
export interface RingBody {
  /** The ring's epoch; null before this node has a ring (joining). */
  readonly epoch: number | null
  readonly partitions: number
  readonly replicas: number
  /** Every owner of the current or pending ring, sorted. */
  readonly members: readonly string[]
  /** Per partition, clockwise from 0: the index in `members` of its owner (empty without a ring). */
  readonly owners: readonly number[]
  /** During a join or leave: the ring keys are moving to, and the nodes still receiving their partitions. */
  readonly pending?: { readonly owners: readonly number[], readonly waitingFor: readonly string[] }
}

/** The body of GET /v1/ring for a cluster member's ring state (undefined: none yet). */
export function ringBody (state: RingState | undefined, partitions: number, replicas: number): RingBody {
  if (state === undefined) return { epoch: null, partitions, replicas, members: [], owners: [] }
  const current = state.current.ring.owners()
  const pending = state.pending?.plan.ring.owners()
  const members = [...new Set([...current, ...(pending ?? [])])].sort()
  const index = new Map(members.map((id, i) => [id, i]))
  return {
    epoch: state.epoch,
    partitions: current.length,
    replicas,
    members,
    owners: current.map((id) => index.get(id)!),
    ...(pending === undefined ? {} : { pending: { owners: pending.map((id) => index.get(id)!), waitingFor: waitingFor(state, replicas) } })
  }
}

/** GET /v1/ring (the dashboard draws it). */
export function ringRoute (ring: () => RingBody) {
  return function ringView (_req: Request, res: Response): void {
    res.status(200).json(ring())
  }
}
