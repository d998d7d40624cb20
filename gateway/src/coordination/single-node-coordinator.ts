import type { ClusterView, CoordinatedWrite, Coordinator } from './coordinator.js'
import { DeadlineWheel } from './deadline-wheel.js'
import { GatewayError } from '../error/gateway-error.js'
import { readCounts, writeCounts, type ReadQuorum, type WriteQuorum } from './quorum.js'
import type { NewValue, ReplicaStore } from '../replica/replica-store.js'
import type { StoredObject } from '../replica/stored-object.js'
import { NOTHING_SEEN, type CausalContext } from '../version/dvv.js'

export interface SingleNodeOptions {
  readonly nodeId: string
  /** The address this node listens on (known after listen). */
  readonly address: () => string
  /** Peer addresses from the configuration; not contacted until the cluster coordinator exists. */
  readonly peers: readonly string[]
  /** The replication factor n the cluster is configured with. */
  readonly replicas: number
  /** Ring partitions (all owned by this node for now). */
  readonly partitions: number
}

/**
 * The coordinator of a node that reaches no other replica: it is the one primary replica of every
 * key and stamps every write itself. With n > 1 configured, a request needing more than one replica
 * is refused up front with a 503 (Cassandra's "unavailable": nothing is written), since the other
 * replicas cannot be reached yet.
 *
 * State machine per request: validate the requirements against n -> refuse if more replicas are
 * needed than are reachable -> run the local operation against the deadline -> answer.
 */
export class SingleNodeCoordinator implements Coordinator {
  readonly #store: ReplicaStore
  readonly #options: SingleNodeOptions
  readonly #deadlines = new DeadlineWheel()
  /** Replicas this coordinator can reach: itself. */
  static readonly REACHABLE = 1

  constructor (store: ReplicaStore, options: SingleNodeOptions) {
    this.#store = store
    this.#options = options
  }

  get replicas (): number {
    return this.#options.replicas
  }

  async get (key: string, quorum: ReadQuorum): Promise<StoredObject | undefined> {
    const { r, pr } = readCounts(key, quorum, this.replicas)
    this.#requireReachable(key, Math.max(r, pr, 1))
    return this.#withDeadline(key, Math.max(r, 1), quorum.timeoutMs, () => this.#store.read(key))
  }

  async put (key: string, value: NewValue, context: CausalContext | null, quorum: WriteQuorum): Promise<CoordinatedWrite> {
    const sync = this.#writeRequirements(key, quorum)
    return this.#withDeadline(key, sync.needed, quorum.timeoutMs,
      () => this.#store.write(key, value, context ?? NOTHING_SEEN, { sync: sync.fsync }))
  }

  async delete (key: string, context: CausalContext | null, quorum: WriteQuorum): Promise<CoordinatedWrite> {
    const sync = this.#writeRequirements(key, quorum)
    return this.#withDeadline(key, sync.needed, quorum.timeoutMs,
      () => this.#store.write(key, null, context ?? 'current', { sync: sync.fsync }))
  }

  clusterView (): ClusterView {
    const { nodeId, partitions, replicas, peers } = this.#options
    return {
      node: { id: nodeId, address: this.#options.address(), status: 'up' },
      peers: peers.map((address) => ({ address, status: 'unknown' as const })),
      ring: { partitions, replicas, owners: [{ id: nodeId, partitions }] }
    }
  }

  /** dw and pw count within w (as in Riak): the write needs max(w, dw, pw) acknowledgements. */
  #writeRequirements (key: string, quorum: WriteQuorum): { needed: number, fsync: boolean } {
    const { w, dw, pw } = writeCounts(key, quorum, this.replicas)
    const needed = Math.max(w, dw, pw, 1)
    this.#requireReachable(key, needed)
    return { needed, fsync: dw > 0 }
  }

  #requireReachable (key: string, needed: number): void {
    const reachable = SingleNodeCoordinator.REACHABLE
    if (needed > reachable) {
      throw new GatewayError('LEVELRING_QUORUM_UNAVAILABLE',
        `${needed} of ${this.replicas} replicas are needed but only ${reachable} (this node) can be reached; ` +
        'lower r/w or start the other nodes', { key, needed, answered: reachable, replicas: this.replicas })
    }
  }

  async #withDeadline<T> (key: string, needed: number, timeoutMs: number, op: () => Promise<T>): Promise<T> {
    return this.#deadlines.race(op(), timeoutMs, () => new GatewayError('LEVELRING_QUORUM_UNAVAILABLE',
      `no replica answered within timeout_ms=${timeoutMs}; retry, or raise timeout_ms`,
      { key, needed, answered: 0, replicas: this.replicas }))
  }
}
