import type { PeerMember } from '../config.js'
import type { ClusterMember, MembershipSource } from './membership-source.js'
import { Ring } from './ring.js'

export interface StaticMembershipOptions {
  readonly self: { readonly id: string, readonly weight: number }
  /** This node's own address, known once it listens (port 0 picks one). */
  readonly selfAddress: () => string
  /** The other members, as --peers lists them. */
  readonly peers: readonly PeerMember[]
  /** Ring partitions Q. */
  readonly partitions: number
}

/**
 * The membership of issue 6: fixed at start from --peers plus this node. Every node is started with
 * the same members, ids and weights, and derives its ring with Ring.create over them (sorted by id,
 * deterministic), so all nodes route every key alike without exchanging anything. A node whose
 * configuration differs derives another ring: the prober compares ring digests and logs it.
 */
export class StaticMembership implements MembershipSource {
  readonly selfId: string
  readonly #selfWeight: number
  readonly #selfAddress: () => string
  readonly #peers: ReadonlyMap<string, ClusterMember>
  readonly #ring: Ring

  constructor (options: StaticMembershipOptions) {
    this.selfId = options.self.id
    this.#selfWeight = options.self.weight
    this.#selfAddress = options.selfAddress
    this.#peers = new Map(options.peers.map((p) => [p.id, { id: p.id, address: p.address, weight: p.weight }]))
    this.#ring = Ring.create(
      [{ id: this.selfId, weight: this.#selfWeight }, ...options.peers.map((p) => ({ id: p.id, weight: p.weight }))],
      { partitionCount: options.partitions })
  }

  members (): readonly ClusterMember[] {
    return [this.#self(), ...this.#peers.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  member (id: string): ClusterMember | undefined {
    return id === this.selfId ? this.#self() : this.#peers.get(id)
  }

  ring (): Ring {
    return this.#ring
  }

  /** A static membership never changes: the listener is never called. */
  onChange (_listener: () => void): () => void {
    return () => {}
  }

  #self (): ClusterMember {
    return { id: this.selfId, address: this.#selfAddress(), weight: this.#selfWeight }
  }
}
