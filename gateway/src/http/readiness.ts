import type { Membership } from '../membership/membership.js'

/** Why a node does not take client traffic yet (or any more). */
export type NotReadyReason = 'stopping' | 'no-ring' | 'joining' | 'receiving-partitions' | 'leaving' | 'left'

/** A node that should not be sent requests, and why, in a sentence for the operator. */
export interface NotReady {
  readonly reason: NotReadyReason
  readonly detail: string
}

/**
 * Readiness of a cluster member, from its membership: it must have the cluster's ring and be an
 * `up` member of it. A node joining through seeds has no ring until gossip brings one; once the
 * claimant gave it partitions it is receiving them (the pending ring names it) until the ring that
 * includes it becomes current; a leaving node hands its partitions away. Undefined: ready.
 */
export function clusterReadiness (membership: Membership): NotReady | undefined {
  const state = membership.ringState()
  const self = membership.self
  if (state === undefined) {
    return { reason: 'no-ring', detail: `node ${self.id} has no ring yet: it is joining through its seeds and has not heard the cluster's ring` }
  }
  if (self.status === 'joining') {
    const receiving = state.pending?.plan.members.some((m) => m.id === self.id) === true
    return receiving
      ? { reason: 'receiving-partitions', detail: `node ${self.id} is receiving the partitions the claimant gave it; it serves once the ring that includes it is current` }
      : { reason: 'joining', detail: `node ${self.id} is joining: it has the ring but owns no partitions yet (the claimant has not planned it in)` }
  }
  if (self.status === 'leaving') return { reason: 'leaving', detail: `node ${self.id} is leaving the cluster and handing its partitions over` }
  if (self.status === 'left') return { reason: 'left', detail: `node ${self.id} has left the cluster` }
  return undefined
}
