import type { Logger } from 'pino'
import type { Liveness } from '../membership/liveness.js'
import type { Membership } from '../membership/membership.js'
import type { KeyPlacement, ReplicaPlacement } from '../ring/placement.js'
import { BackgroundWork } from './background-work.js'
import { GetFsm } from './get-fsm.js'
import { PutFsm } from './put-fsm.js'
import type { ReplicaAccess } from './replica-access.js'
import type { ClusterView, CoordinatedWrite, Coordinator } from './coordinator.js'
import { DeadlineWheel } from './deadline-wheel.js'
import { quorumUnavailable, readCounts, writeCounts, type ReadQuorum, type WriteCounts, type WriteQuorum } from './quorum.js'
import type { NewValue, ReplicaStore, Supersedes } from '../replica/replica-store.js'
import type { ForwardedWrite } from '../internode/internode-protocol.js'
import type { WriteStamper } from '../internode/write-stamper.js'
import type { StoredObject } from '../replica/stored-object.js'
import { NOTHING_SEEN, type CausalContext } from '../version/dvv.js'

export interface DistributedCoordinatorOptions {
  readonly membership: Membership
  /** Which nodes a key's requests go to (the sloppy placement). */
  readonly placement: ReplicaPlacement
  /** Who is believed up: orders the candidates a write is forwarded to. */
  readonly liveness: Liveness
  /** Reaches the replicas: this node's store, the others over RPC. */
  readonly access: ReplicaAccess
  readonly store: ReplicaStore
  /** The replication factor n. */
  readonly replicas: number
  /** This node's address, known after listen. */
  readonly address: () => string
  readonly logger: Logger
  /** Told the replicas each read repair fixed (tests count repairs with it). */
  readonly onRepaired?: (key: string, nodes: readonly string[]) => void
  /** Builds GET /v1/cluster instead of the coordinator's own summary (the gossip membership's richer view). */
  readonly view?: () => ClusterView
}

/**
 * The coordinator of a cluster member: any node coordinates any request. A read goes to the key's
 * n targets at once and answers with the merge of the first r replies (GetFsm), then read-repairs;
 * a write is stamped by one replica of the key, this node when it is one, and replicated from
 * there until w acknowledge (PutFsm). Requirements above n are a 400, and requirements the
 * placement cannot meet at all (more than the key has targets) a 503 before anything is sent.
 */
export class DistributedCoordinator implements Coordinator, WriteStamper {
  readonly #options: DistributedCoordinatorOptions
  readonly #deadlines = new DeadlineWheel()
  readonly #background = new BackgroundWork()

  constructor (options: DistributedCoordinatorOptions) {
    this.#options = options
  }

  get replicas (): number {
    return this.#options.replicas
  }

  async get (key: string, quorum: ReadQuorum): Promise<StoredObject | undefined> {
    const n = this.replicas
    const counts = readCounts(key, quorum, n)
    const r = Math.max(counts.r, 1)
    const pr = counts.pr
    const placement = this.#options.placement.place(key)
    this.#requirePlacement(key, placement, { r, pr })
    const { access, logger, onRepaired } = this.#options
    return new GetFsm({ key, targets: placement.targets, r, pr, notfoundOk: counts.notfoundOk, n, timeoutMs: counts.timeoutMs },
      { access, deadlines: this.#deadlines, background: this.#background, logger, onRepaired }).run()
  }

  async put (key: string, value: NewValue, context: CausalContext | null, quorum: WriteQuorum): Promise<CoordinatedWrite> {
    return this.#write(key, value, context ?? NOTHING_SEEN, quorum)
  }

  async delete (key: string, context: CausalContext | null, quorum: WriteQuorum): Promise<CoordinatedWrite> {
    return this.#write(key, null, context ?? 'current', quorum)
  }

  /** A write another node forwarded here: stamp it on this replica and replicate it to the key's targets. */
  async stampHere (key: string, write: ForwardedWrite): Promise<CoordinatedWrite> {
    const counts = writeCounts(key, write.counts, this.replicas)
    const placement = this.#options.placement.place(key)
    this.#requirePlacement(key, placement, counts)
    return this.#runPut(key, write.value, write.supersedes, counts, placement, true)
  }

  clusterView (): ClusterView {
    if (this.#options.view !== undefined) return this.#options.view()
    const { membership, liveness, address } = this.#options
    const ring = membership.ring()
    const shares = ring.shares()
    return {
      node: { id: membership.selfId, address: address(), status: 'up' },
      peers: membership.members().filter((m) => m.id !== membership.selfId).map((m) => {
        const seen = liveness.lastSeen(m.id)
        return { id: m.id, address: m.address, status: liveness.state(m.id), ...(seen === undefined ? {} : { lastSeen: new Date(seen).toISOString() }) }
      }),
      ring: {
        partitions: ring.partitionCount,
        replicas: this.replicas,
        owners: membership.members().map((m) => ({ id: m.id, partitions: shares.get(m.id) ?? 0 })),
        digest: ring.digest()
      }
    }
  }

  /** Wait (at most `timeoutMs`) for work requests left running: late replies, read repair, replication past w. */
  async drain (timeoutMs: number): Promise<void> {
    await this.#background.drain(timeoutMs)
  }

  async #write (key: string, value: NewValue | null, supersedes: Supersedes, quorum: WriteQuorum): Promise<CoordinatedWrite> {
    const counts = writeCounts(key, quorum, this.replicas)
    const placement = this.#options.placement.place(key)
    this.#requirePlacement(key, placement, counts)
    return this.#runPut(key, value, supersedes, counts, placement, false)
  }

  #runPut (key: string, value: NewValue | null, supersedes: Supersedes, counts: WriteCounts, placement: KeyPlacement, stampHere: boolean): Promise<CoordinatedWrite> {
    const { access, store, liveness, logger } = this.#options
    return new PutFsm({ key, value, supersedes, counts, targets: placement.targets, n: this.replicas, stampHere, fallbacks: placement.fallbacks, handoff: placement.handoff },
      { access, store, liveness, deadlines: this.#deadlines, background: this.#background, logger }).run()
  }

  /**
   * Refuse up front, writing nothing, a request needing more replicas (or primaries) than the key
   * has targets: a cluster with fewer members than n, or too few nodes up.
   */
  #requirePlacement (key: string, placement: KeyPlacement, needs: { r?: number, pr?: number, w?: number, dw?: number, pw?: number }): void {
    const targets = placement.targets.length
    const primaries = placement.targets.filter((t) => t.primary).length
    const all = Math.max(needs.r ?? 0, needs.w ?? 0, needs.dw ?? 0, 1)
    const prim = Math.max(needs.pr ?? 0, needs.pw ?? 0)
    const why = (count: number, what: string): string =>
      `the key has only ${count} ${what} in a cluster of ${this.#options.membership.members().length} members; nothing was sent`
    if (all > targets) {
      const parameter = needs.r !== undefined ? 'r' : (needs.dw ?? 0) > (needs.w ?? 0) ? 'dw' : 'w'
      throw quorumUnavailable(key, this.replicas, { parameter, needed: all, answered: targets }, why(targets, 'replicas'))
    }
    if (prim > primaries) {
      const parameter = needs.r !== undefined ? 'pr' : 'pw'
      throw quorumUnavailable(key, this.replicas, { parameter, needed: prim, answered: primaries }, why(primaries, 'primary replicas'))
    }
  }
}
