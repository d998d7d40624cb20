/** What this node last saw of a peer: answered (up), failed to answer (down), or not contacted yet. */
export type PeerState = 'up' | 'down' | 'unknown'

/**
 * The "who is up" predicate the coordinator and the sloppy placement consult. Membership implements
 * it with a phi-accrual detector per member over gossip heartbeats.
 */
export interface Liveness {
  /** False only when the node is believed down; unknown counts as up (try it). This node is always up. */
  isUp (id: string): boolean
  /** The state as last observed. */
  state (id: string): PeerState
  /** When the peer last answered anything (ms since epoch), if ever. */
  lastSeen (id: string): number | undefined
}
