import type { Liveness } from '../membership/liveness.js'
import type { KeyPlacement, ReplicaPlacement, ReplicaTarget } from './placement.js'
import type { Ring } from './ring.js'
import type { Membership } from '../membership/membership.js'

/**
 * Sloppy quorum (Dynamo 4.6): a key's requests go to the first n healthy nodes of the ring walk
 * from its partition (Ring.sloppyTargets). Each primary believed up serves itself; each one
 * believed down (this node's failure detector) is replaced, in order, by the next node up past
 * the n primaries, which keeps the replica as a hint for it (`primary: false, hintFor`). The nodes
 * up beyond those are the fallbacks a write turns to when a target does not answer at all.
 *
 * pr/pw count primaries only, so a request that needs them gets the strict behaviour: with a
 * primary down it is refused up front (503) instead of served by a stand-in.
 *
 * During a join or leave the pending ring's replicas of the key that are not targets are listed
 * in `handoff`: writes reach them too, so nothing written during the move is missing when it ends.
 */
export class SloppyPlacement implements ReplicaPlacement {
  readonly #membership: Membership
  readonly #liveness: Liveness
  readonly #n: number
  #ring: Ring | undefined
  #pending: Ring | undefined
  #walks: Array<readonly string[] | undefined> = []
  #pendingLists: Array<readonly string[] | undefined> = []

  constructor (membership: Membership, liveness: Liveness, n: number) {
    this.#membership = membership
    this.#liveness = liveness
    this.#n = n
  }

  place (key: string): KeyPlacement {
    const ring = this.#membership.ring() // a 503 while this node has no ring yet
    this.#refresh(ring)
    const partition = ring.partitionOf(key)
    const walk = this.#walk(ring, partition)
    // Ring.sloppyTargets' rule over the cached walk (it would walk all Q partitions per request):
    // each primary up serves itself; each one down is replaced, in order, by the next node up past the n primaries.
    const up = walk.map((node) => this.#liveness.isUp(node))
    const targets: ReplicaTarget[] = []
    let next = this.#n
    for (let i = 0; i < Math.min(this.#n, walk.length); i++) {
      if (up[i]!) { targets.push({ node: walk[i]!, primary: true }); continue }
      while (next < walk.length && !up[next]!) next++
      if (next < walk.length) targets.push({ node: walk[next++]!, primary: false, hintFor: walk[i]! })
    }
    const used = new Set(targets.map((t) => t.node))
    const fallbacks = walk.filter((node, i) => i >= this.#n && up[i]! && !used.has(node))
    // A pending replica that is a target only as a hint holder keeps the write as a hint, not in
    // its own store: it needs the handoff copy as much as any other new replica.
    const stores = new Set(targets.filter((t) => t.hintFor === undefined).map((t) => t.node))
    const pending = this.#pending === undefined ? [] : this.#pendingList(this.#pending, partition).filter((node) => !stores.has(node))
    return { partition, targets, fallbacks, ...(pending.length === 0 ? {} : { handoff: pending }) }
  }

  /** Caches hold per-partition walks of the rings they were computed for. */
  #refresh (ring: Ring): void {
    const pending = this.#membership.pendingRing()
    if (ring !== this.#ring) { this.#ring = ring; this.#walks = [] }
    if (pending !== this.#pending) { this.#pending = pending; this.#pendingLists = [] }
  }

  #walk (ring: Ring, p: number): readonly string[] {
    let walk = this.#walks[p]
    if (walk === undefined) { walk = Object.freeze(ring.walk(p)); this.#walks[p] = walk }
    return walk
  }

  #pendingList (ring: Ring, p: number): readonly string[] {
    let list = this.#pendingLists[p]
    if (list === undefined) { list = Object.freeze(ring.preferenceList(p, this.#n)); this.#pendingLists[p] = list }
    return list
  }
}
