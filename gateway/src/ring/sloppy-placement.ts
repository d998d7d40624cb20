import type { Liveness } from '../membership/liveness.js'
import type { KeyPlacement, ReplicaPlacement, ReplicaTarget } from './placement.js'
import { pickFallback, type Ring } from './ring.js'
import type { Membership } from '../membership/membership.js'

/**
 * Sloppy quorum (Dynamo 4.6): a key's requests go to its n primaries (Ring.preferenceList: distinct
 * zones as far as zones allow), as Ring.sloppyTargets places them. Each primary believed up serves
 * itself; each one believed down (this node's failure detector) is replaced by a node up that is not
 * a primary, the first in walk order of another zone than the down primary's (a zone tends to fail
 * as a whole), which keeps the replica as a hint for it (`primary: false, hintFor`). The other nodes
 * up, in walk order, are the fallbacks a write turns to when a target does not answer at all.
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
  #walks: Array<{ readonly primaries: readonly string[], readonly others: readonly string[] } | undefined> = []
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
    const { primaries, others } = this.#lists(ring, partition)
    // Ring.sloppyTargets' rule over the cached lists (it would walk all Q partitions per request).
    const spare = others.filter((node) => this.#liveness.isUp(node))
    const targets: ReplicaTarget[] = []
    for (const primary of primaries) {
      if (this.#liveness.isUp(primary)) { targets.push({ node: primary, primary: true }); continue }
      const i = pickFallback(spare, ring.zoneOf(primary), (node) => ring.zoneOf(node))
      if (i >= 0) targets.push({ node: spare.splice(i, 1)[0]!, primary: false, hintFor: primary })
    }
    const used = new Set(targets.map((t) => t.node))
    const fallbacks = spare.filter((node) => !used.has(node))
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

  /** p's primaries, and every other node in walk order. */
  #lists (ring: Ring, p: number): { readonly primaries: readonly string[], readonly others: readonly string[] } {
    let lists = this.#walks[p]
    if (lists === undefined) {
      const primaries = Object.freeze(ring.preferenceList(p, this.#n))
      lists = Object.freeze({ primaries, others: Object.freeze(ring.walk(p).filter((node) => !primaries.includes(node))) })
      this.#walks[p] = lists
    }
    return lists
  }

  #pendingList (ring: Ring, p: number): readonly string[] {
    let list = this.#pendingLists[p]
    if (list === undefined) { list = Object.freeze(ring.preferenceList(p, this.#n)); this.#pendingLists[p] = list }
    return list
  }
}
