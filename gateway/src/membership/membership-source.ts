import type { Ring } from '../ring/ring.js'

/** A node of the cluster as routing needs it: its id, internode address (host:port) and ring weight. */
export interface ClusterMember {
  readonly id: string
  readonly address: string
  readonly weight: number
}

/**
 * Where the coordinator learns who is in the cluster and which ring they own. The static
 * membership (static-membership.ts) never changes; a gossip-driven source (issue 7) implements the
 * same contract and calls the listeners when members join, leave, move or the ring is rebalanced.
 *
 * Contract: `members()`, `member()` and `ring()` always describe one and the same membership (a
 * listener never sees the ring of one and the members of another); every ring owner is a member;
 * listeners run after a change is visible through the getters.
 */
export interface MembershipSource {
  /** This node's id; always a member. */
  readonly selfId: string
  /** Every member, this node included, sorted by id. */
  members (): readonly ClusterMember[]
  /** The member with this id, or undefined when there is none. */
  member (id: string): ClusterMember | undefined
  /** The ring the members own now. */
  ring (): Ring
  /** Call `listener` after every change of members or ring; returns a function that unsubscribes. */
  onChange (listener: () => void): () => void
}
