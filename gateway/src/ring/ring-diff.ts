/**
 * What changes between two rings, for join/leave handoff. Ownership moves say which partitions
 * change primary owner; replica changes say, for a replication factor n, which nodes start or stop
 * holding a replica of each partition (a node replicates partition p when it is on p's preference
 * list), which is what data streaming must act on: a gaining node needs p's keys from a node of the
 * old list before the losing node may drop them.
 */
import { GatewayError } from '../error/gateway-error.js'
import type { Ring } from './ring.js'

/** Partition `partition` changes primary owner from `from` to `to`. */
export interface OwnershipMove {
  readonly partition: number
  readonly from: string
  readonly to: string
}

/** For one partition: nodes that newly replicate it, nodes that no longer do, and the old list to stream from. */
export interface ReplicaChange {
  readonly partition: number
  readonly gained: readonly string[]
  readonly lost: readonly string[]
  /** The preference list before the change: where a gaining node can fetch the partition's keys. */
  readonly sources: readonly string[]
}

function assertComparable (before: Ring, after: Ring): void {
  if (before.partitionCount !== after.partitionCount) {
    throw new GatewayError('CLUSTER_RING_MISMATCH',
      `cannot diff a ${before.partitionCount}-partition ring against a ${after.partitionCount}-partition ring; the partition count is fixed for a cluster's life`)
  }
}

/** Partitions whose owner differs between the rings, ascending by partition. Same partition count required. */
export function ownershipMoves (before: Ring, after: Ring): OwnershipMove[] {
  assertComparable(before, after)
  const moves: OwnershipMove[] = []
  const a = before.owners()
  const b = after.owners()
  for (let p = 0; p < a.length; p++) {
    if (a[p] !== b[p]) moves.push({ partition: p, from: a[p]!, to: b[p]! })
  }
  return moves
}

/** Partitions whose set of n replicas differs between the rings, ascending; gained/lost sorted by id. */
export function replicaChanges (before: Ring, after: Ring, n: number): ReplicaChange[] {
  assertComparable(before, after)
  const changes: ReplicaChange[] = []
  for (let p = 0; p < before.partitionCount; p++) {
    const old = before.preferenceList(p, n)
    const now = after.preferenceList(p, n)
    const gained = now.filter(node => !old.includes(node)).sort()
    const lost = old.filter(node => !now.includes(node)).sort()
    if (gained.length > 0 || lost.length > 0) changes.push({ partition: p, gained, lost, sources: old })
  }
  return changes
}
