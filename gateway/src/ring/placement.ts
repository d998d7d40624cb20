/** One replica a request goes to. */
export interface ReplicaTarget {
  readonly node: string
  /** True for a node of the key's preference list; false for a fallback standing in for one. */
  readonly primary: boolean
  /** For a fallback: the primary it keeps the replica for, as a hint (sloppy quorum). */
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
 * Decides which nodes a request for a key goes to (SloppyPlacement: the preference list, with
 * fallbacks standing in for primaries believed down, marked `primary: false` and `hintFor`).
 */
export interface ReplicaPlacement {
  /** The targets of `key` under the current membership. */
  place (key: string): KeyPlacement
}

/** One primary replica of a key, as GET /v1/placement/{key} shows it. */
export interface PlacedReplica {
  readonly node: string
  readonly zone: string
  /** Its internode host:port; empty when this node does not know the member's address. */
  readonly address: string
}

/** Where a key lives: its partition and its n primaries in preference order (the body of GET /v1/placement/{key}). */
export interface KeyReplicas {
  readonly key: string
  readonly partition: number
  readonly replicas: readonly PlacedReplica[]
}
