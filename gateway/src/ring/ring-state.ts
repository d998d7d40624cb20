/**
 * The ring as the cluster agrees on it: a current ring (where keys are read and written), at most
 * one pending ring (where they are moving during a join or leave), and an epoch. The whole state
 * is gossiped, not derived by each node from membership events, because Ring.rebalance depends on
 * the ring it starts from (see ring.ts, "Agreement").
 *
 * Merge (what a node does with a state a peer gossips) is a join, so every node ends up with the
 * same state whatever order gossip delivers them in:
 *  - the higher epoch wins; at the same epoch the larger digest wins (two claimants that computed
 *    different rings at once: one is kept everywhere, deterministically);
 *  - the same epoch and digest: the union of the `done` sets (nodes that finished receiving the
 *    partitions they gain in the pending ring; a grow-only set).
 *
 * Lifecycle: a claimant (ring-claimant.ts) sees the owning members (joining and up) differ from the
 * newest plan and gossips epoch + 1 with a pending ring; every node that gains replicas in it
 * streams them from the current replicas and adds itself to `done`; once every gaining node is
 * done, the claimant promotes the pending ring to current (epoch + 1); then nodes drop what they no
 * longer replicate (partition-transfer.ts).
 */
import { createHash } from 'node:crypto'
import { GatewayError } from '../error/gateway-error.js'
import { replicaChanges, type ReplicaChange } from './ring-diff.js'
import { assertZoneName, DEFAULT_ZONE, Ring, type RingJSON, type RingMember } from './ring.js'

/** A ring with the members (and weights) it was built for: the claimant compares these to membership. */
export interface RingPlan {
  /** Sorted by id. */
  readonly members: readonly RingMember[]
  readonly ring: Ring
}

/** A ring being moved to, and the nodes that have received every replica they gain in it. */
export interface PendingRing {
  readonly plan: RingPlan
  readonly done: ReadonlySet<string>
}

/** The agreed ring state; immutable. */
export interface RingState {
  readonly epoch: number
  readonly current: RingPlan
  readonly pending: PendingRing | undefined
  /** SHA-1 (hex) of the plans (not the epoch nor `done`): equal digests at one epoch mean one state. */
  readonly digest: string
}

/** The gossiped form. */
export interface RingStateJSON {
  readonly epoch: number
  readonly current: RingPlanJSON
  readonly pending?: RingPlanJSON & { readonly done: readonly string[] }
}

export interface RingPlanJSON {
  readonly members: ReadonlyArray<{ readonly id: string, readonly weight: number, readonly zone?: string }>
  readonly ring: RingJSON
}

function byId (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** A member as a plan records it: the zone only when it names one other than DEFAULT_ZONE (plans without zones keep their form and digest). */
function planMember ({ id, weight, zone }: RingMember): RingMember {
  return zone === undefined || zone === DEFAULT_ZONE ? { id, weight } : { id, weight, zone }
}

/** A plan for these members (sorted here) and ring. */
export function ringPlan (members: readonly RingMember[], ring: Ring): RingPlan {
  return { members: [...members].map(planMember).sort((a, b) => byId(a.id, b.id)), ring }
}

/** Build a state (computes its digest). */
export function ringState (epoch: number, current: RingPlan, pending?: PendingRing): RingState {
  const hash = createHash('sha1')
  const plan = (p: RingPlan): string => JSON.stringify([p.members.map((m) => m.zone === undefined ? [m.id, m.weight] : [m.id, m.weight, m.zone]), p.ring.digest()])
  hash.update(plan(current))
  if (pending !== undefined) hash.update('|').update(plan(pending.plan))
  return Object.freeze({ epoch, current, pending, digest: hash.digest('hex') })
}

/** > 0 when a is newer than b, < 0 when older, 0 for the same epoch and plans. */
export function compareRingStates (a: RingState, b: RingState): number {
  return (a.epoch - b.epoch) || byId(a.digest, b.digest)
}

/** The join of two states (see the file comment); returns `local` itself when it already holds everything of `remote`. */
export function mergeRingStates (local: RingState, remote: RingState): RingState {
  const order = compareRingStates(local, remote)
  if (order > 0) return local
  if (order < 0) return remote
  if (local.pending === undefined || remote.pending === undefined) return local
  const missing = [...remote.pending.done].filter((id) => !local.pending!.done.has(id))
  if (missing.length === 0) return local
  return ringState(local.epoch, local.current, { plan: local.pending.plan, done: new Set([...local.pending.done, ...missing]) })
}

const changesCache = new WeakMap<RingState, Map<number, ReplicaChange[]>>()

/** For replication factor n: partitions whose replica set differs between the current and pending ring (empty without one). */
export function pendingChanges (state: RingState, n: number): ReplicaChange[] {
  if (state.pending === undefined) return []
  let byN = changesCache.get(state)
  if (byN === undefined) { byN = new Map(); changesCache.set(state, byN) }
  let changes = byN.get(n)
  if (changes === undefined) {
    changes = replicaChanges(state.current.ring, state.pending.plan.ring, n)
    byN.set(n, changes)
  }
  return changes
}

/** Nodes that gain replicas in the pending ring (they must stream before it becomes current). */
export function gainingNodes (state: RingState, n: number): Set<string> {
  return new Set(pendingChanges(state, n).flatMap((c) => c.gained))
}

/** The partitions `node` gains in the pending ring, with the current replicas to fetch them from. */
export function transfersTo (state: RingState, n: number, node: string): ReplicaChange[] {
  return pendingChanges(state, n).filter((c) => c.gained.includes(node))
}

/** Gaining nodes that have not reported done yet. */
export function waitingFor (state: RingState, n: number): string[] {
  if (state.pending === undefined) return []
  const done = state.pending.done
  return [...gainingNodes(state, n)].filter((id) => !done.has(id)).sort(byId)
}

/** The state with `node` added to the pending ring's done set (unchanged without a pending ring). */
export function withDone (state: RingState, node: string): RingState {
  if (state.pending === undefined || state.pending.done.has(node)) return state
  return ringState(state.epoch, state.current, { plan: state.pending.plan, done: new Set([...state.pending.done, node]) })
}

/** True when `node` replicates partition p in the current or the pending ring. */
export function replicates (state: RingState, n: number, node: string, p: number): boolean {
  return state.current.ring.preferenceList(p, n).includes(node) ||
    (state.pending !== undefined && state.pending.plan.ring.preferenceList(p, n).includes(node))
}

export function ringStateToJSON (state: RingState): RingStateJSON {
  const plan = (p: RingPlan): RingPlanJSON => ({ members: p.members.map(planMember), ring: p.ring.toJSON() })
  return {
    epoch: state.epoch,
    current: plan(state.current),
    ...(state.pending === undefined ? {} : { pending: { ...plan(state.pending.plan), done: [...state.pending.done].sort(byId) } })
  }
}

/**
 * Highest epoch a ring state may carry. The claimant advances the epoch by one per plan and one per
 * promotion, so a cluster reaching 2^40 would have made a ring change every millisecond for 35 years;
 * well below 2^53 - 1, so no state that passes can leave the claimant unable to count on.
 */
export const MAX_RING_EPOCH = 2 ** 40

/**
 * Most epochs a gossiped state may be ahead of the one a node holds. A join or a leave costs two
 * (plan, promotion), a plan superseded while under way one more: a node away while the cluster made
 * some two thousand such changes is still within it. A state further ahead is not one the claimant
 * can have produced since; it is refused (and logged), so one bad state cannot run the epoch up.
 */
export const MAX_EPOCH_ADVANCE = 4_096

/** Refuse (CLUSTER_INVALID_RING) a gossiped state whose epoch is further ahead of `local`'s than MAX_EPOCH_ADVANCE. */
export function assertPlausibleEpoch (local: RingState | undefined, gossiped: RingState): void {
  if (local === undefined || gossiped.epoch <= local.epoch + MAX_EPOCH_ADVANCE) return
  throw new GatewayError('CLUSTER_INVALID_RING', `ring state rejected: epoch ${gossiped.epoch} is more than ${MAX_EPOCH_ADVANCE} ahead of this node's ` +
    `${local.epoch}, more than the claimant can have produced since (a faulty or forged state; a node really that far behind is wiped and joined again)`)
}

/** Read a gossiped or stored state; throws CLUSTER_INVALID_RING naming what is wrong. */
export function ringStateFromJSON (json: RingStateJSON): RingState {
  const invalid = (why: string): GatewayError => new GatewayError('CLUSTER_INVALID_RING', `ring state rejected: ${why}`)
  if (json === null || typeof json !== 'object') throw invalid('not an object')
  if (!Number.isSafeInteger(json.epoch) || json.epoch < 0 || json.epoch > MAX_RING_EPOCH) {
    throw invalid(`epoch ${String(json.epoch)} is not an integer from 0 to ${MAX_RING_EPOCH}`)
  }
  const plan = (p: RingPlanJSON, what: string): RingPlan => {
    if (p === null || typeof p !== 'object' || !Array.isArray(p.members)) throw invalid(`${what} has no members list`)
    for (const m of p.members) {
      if (m === null || typeof m !== 'object' || typeof m.id !== 'string' || m.id === '' || !Number.isSafeInteger(m.weight) || m.weight < 1) {
        throw invalid(`${what} lists a member ${JSON.stringify(m)} without an id and a positive integer weight`)
      }
      if (m.zone !== undefined) {
        try { assertZoneName(m.zone, `member ${m.id}'s zone`) } catch (err) { throw invalid(`${what}: ${(err as Error).message}`) }
      }
    }
    const ring = Ring.fromJSON(p.ring)
    const members = new Set(p.members.map((m) => m.id))
    if (members.size !== p.members.length) throw invalid(`${what} lists a member twice`)
    const stranger = ring.nodes().find((id) => !members.has(id))
    if (stranger !== undefined) throw invalid(`${what} ring is owned in part by ${stranger}, not one of its members`)
    return ringPlan(p.members, ring)
  }
  const current = plan(json.current, 'current')
  if (json.pending === undefined || json.pending === null) return ringState(json.epoch, current)
  const pending = plan(json.pending, 'pending')
  if (pending.ring.partitionCount !== current.ring.partitionCount) throw invalid('the pending ring has another partition count than the current one')
  if (!Array.isArray(json.pending.done) || json.pending.done.some((id) => typeof id !== 'string')) throw invalid('pending.done must be a list of node ids')
  return ringState(json.epoch, current, { plan: pending, done: new Set(json.pending.done) })
}
