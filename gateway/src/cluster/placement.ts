import type { MembershipSource } from './membership-source.js'

/** One replica a request goes to. */
export interface ReplicaTarget {
  readonly node: string
  /** True for a node of the key's preference list; false for a fallback standing in for one. */
  readonly primary: boolean
  /** For a fallback: the primary it keeps the replica for, as a hint (sloppy quorum, issue 7). */
  readonly hintFor?: string
}

/** Where one key's replicas are. */
export interface KeyPlacement {
  readonly partition: number
  /** At most n targets, distinct nodes, in preference order. */
  readonly targets: readonly ReplicaTarget[]
  /**
   * Sloppy quorum: nodes believed up beyond the targets, in ring order. When a target does not
   * acknowledge a write, the next of these keeps it as a hint for that target's primary.
   */
  readonly fallbacks?: readonly string[]
  /**
   * During a join or leave: nodes that replicate the key in the pending ring but are not targets.
   * A write also goes to them (not counted toward w), so the move loses nothing written meanwhile.
   */
  readonly handoff?: readonly string[]
}

/**
 * Decides which nodes a request for a key goes to. Issue 6 uses the strict preference list
 * (PreferenceListPlacement); issue 7's sloppy quorum implements the same interface with
 * ring.sloppyTargets(p, n, liveness.isUp), marking fallbacks with `primary: false` and `hintFor`.
 */
export interface ReplicaPlacement {
  /** The targets of `key` under the current membership. */
  place (key: string): KeyPlacement
}

/**
 * Strict quorum: the key's preference list (the next n distinct nodes clockwise from its
 * partition), every one a primary, whether up or not. Lists are computed once per partition and
 * recomputed when the membership changes.
 */
export class PreferenceListPlacement implements ReplicaPlacement {
  readonly #membership: MembershipSource
  readonly #n: number
  #lists: Array<readonly ReplicaTarget[] | undefined> = []

  constructor (membership: MembershipSource, n: number) {
    this.#membership = membership
    this.#n = n
    membership.onChange(() => { this.#lists = [] })
  }

  place (key: string): KeyPlacement {
    const ring = this.#membership.ring()
    const partition = ring.partitionOf(key)
    let targets = this.#lists[partition]
    if (targets === undefined) {
      targets = Object.freeze(ring.preferenceList(partition, this.#n).map((node) => Object.freeze({ node, primary: true })))
      this.#lists[partition] = targets
    }
    return { partition, targets }
  }
}
