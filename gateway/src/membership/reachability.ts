import type { Liveness, PeerState } from './liveness.js'

interface Observation {
  state: PeerState
  lastSeen: number | undefined
  /** Why the last exchange failed, for logs and /v1/cluster. */
  reason: string | undefined
  /** When a connection to it was last refused (nothing listening) since it last answered, ms since epoch. */
  refusedAt: number | undefined
}

/**
 * How internode calls to each peer went: the internode client reports every call (answered, failed,
 * refused). The membership asks it when a connection was last refused, because nothing listening at
 * a member's address means it crashed or stopped, and that takes it down at once without waiting
 * for its detector; everything else about who is up is the failure detector's.
 */
export class PeerReachability implements Liveness {
  readonly #selfId: string
  readonly #peers = new Map<string, Observation>()
  readonly #now: () => number

  constructor (selfId: string, now: () => number = Date.now) {
    this.#selfId = selfId
    this.#now = now
  }

  isUp (id: string): boolean {
    return id === this.#selfId || this.#peers.get(id)?.state !== 'down'
  }

  state (id: string): PeerState {
    return id === this.#selfId ? 'up' : this.#peers.get(id)?.state ?? 'unknown'
  }

  lastSeen (id: string): number | undefined {
    return id === this.#selfId ? this.#now() : this.#peers.get(id)?.lastSeen
  }

  /** The reason of the last failure while the peer is down. */
  reason (id: string): string | undefined {
    const o = this.#peers.get(id)
    return o?.state === 'down' ? o.reason : undefined
  }

  /** The peer answered (any status: it is reachable). Returns true when it was not up before. */
  answered (id: string): boolean {
    const o = this.#observation(id)
    const changed = o.state !== 'up'
    o.state = 'up'
    o.lastSeen = this.#now()
    o.reason = undefined
    o.refusedAt = undefined
    return changed
  }

  /**
   * A call to the peer failed without an answer; `refused` when the connection was refused (no
   * process listens there: the gossip failure detector takes that as down at once). Returns the state before.
   */
  failed (id: string, reason: string, refused = false): PeerState {
    const o = this.#observation(id)
    const before = o.state
    o.state = 'down'
    o.reason = reason
    if (refused) o.refusedAt = this.#now()
    return before
  }

  /** When a connection to the peer was last refused since it last answered (ms since epoch), if so. */
  refusedAt (id: string): number | undefined {
    return this.#peers.get(id)?.refusedAt
  }

  #observation (id: string): Observation {
    let o = this.#peers.get(id)
    if (o === undefined) {
      o = { state: 'unknown', lastSeen: undefined, reason: undefined, refusedAt: undefined }
      this.#peers.set(id, o)
    }
    return o
  }
}
