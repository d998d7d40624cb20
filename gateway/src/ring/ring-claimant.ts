import { zoneOf, type RingMember } from './ring.js'
import { ringPlan, ringState, waitingFor, type RingPlan, type RingState } from './ring-state.js'

/**
 * The claim step one node (the claimant) runs after every gossip round: the next ring state, or
 * undefined when nothing is to be done. `owners` are the members that should own partitions
 * (status joining or up), with their weights and zones.
 *
 *  - The owners differ from the newest plan (the pending one, else the current one): plan a move
 *    to `newest.rebalance(owners)` as the pending ring at epoch + 1 (a transition already under way
 *    is replaced; its gainers start over, and what they received is kept). A rebalance that lands
 *    on the current ring (a join cancelled by a leave) just records the owners.
 *  - The owners match the pending plan and every node gaining replicas has them: promote it.
 *
 * Deterministic in (state, owners, n): two claimants acting on the same state agree (same digest).
 */
export function claim (state: RingState, owners: readonly RingMember[], n: number): RingState | undefined {
  if (owners.length === 0) return undefined
  const newest = state.pending?.plan ?? state.current
  if (!sameMembers(newest, owners)) {
    const ring = newest.ring.rebalance(owners)
    const plan = ringPlan(owners, ring)
    if (ring.equals(state.current.ring)) return ringState(state.epoch + 1, plan)
    return ringState(state.epoch + 1, state.current, { plan, done: new Set() })
  }
  if (state.pending !== undefined && waitingFor(state, n).length === 0) return ringState(state.epoch + 1, state.pending.plan)
  return undefined
}

/** True when the plan was made for exactly these members, weights and zones. */
function sameMembers (plan: RingPlan, members: readonly RingMember[]): boolean {
  if (plan.members.length !== members.length) return false
  const byId = new Map(members.map((m) => [m.id, m]))
  return plan.members.every((m) => {
    const member = byId.get(m.id)
    return member !== undefined && member.weight === m.weight && zoneOf(member) === zoneOf(m)
  })
}
