import type { Logger } from 'pino'
import type { Liveness } from '../membership/liveness.js'
import type { Membership } from '../membership/membership.js'
import type { KeyPlacement, ReplicaPlacement, ReplicaTarget } from '../ring/placement.js'
import { BackgroundWork } from './background-work.js'
import { GetFsm } from './get-fsm.js'
import { PutFsm } from './put-fsm.js'
import type { ReplicaAccess } from './replica-access.js'
import type { ClusterView, CoordinatedWrite, Coordinator } from './coordinator.js'
import { DeadlineWheel } from './deadline-wheel.js'
import { localQuorum, quorumUnavailable, readCounts, writeCounts, type ReadQuorum, type WriteCounts, type WriteQuorum } from './quorum.js'
import { DEFAULT_ZONE } from '../ring/ring.js'
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
 * n targets at once, one asked for its set and the others for digests of theirs, and answers with
 * the merge of the first r replies (GetFsm), then read-repairs;
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
    let r = Math.max(counts.r, 1)
    const pr = counts.pr
    let placement = this.#options.placement.place(key)
    if (quorum.lr !== undefined) {
      // Zone-local read (quorum.ts, localQuorum): only the replicas of this node's zone are asked.
      const local = this.#zoneLocal(placement)
      r = localQuorum(key, 'lr', quorum.lr, n, local.primaries)
      placement = { ...placement, targets: local.targets }
      this.#requirePlacement(key, placement, { r, pr }, 'lr')
    }
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
    const counts = { ...writeCounts(key, write.counts, this.replicas), ...(write.counts.local === true ? { local: true } : {}) }
    const placement = this.#options.placement.place(key)
    const counted = counts.local === true ? this.#zoneLocal(placement).targets : undefined
    this.#requirePlacement(key, counted === undefined ? placement : { ...placement, targets: counted }, counts, counted === undefined ? undefined : 'lw')
    return this.#runPut(key, write.value, write.supersedes, counts, placement, true, counted)
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
    let counts = writeCounts(key, quorum, this.replicas)
    const placement = this.#options.placement.place(key)
    if (quorum.lw === undefined) {
      this.#requirePlacement(key, placement, counts)
      return this.#runPut(key, value, supersedes, counts, placement, false)
    }
    // Zone-local write (quorum.ts, localQuorum): replicated to every target, answered once lw of this zone's acknowledged.
    const local = this.#zoneLocal(placement)
    counts = { ...counts, w: localQuorum(key, 'lw', quorum.lw, this.replicas, local.primaries), local: true }
    this.#requirePlacement(key, { ...placement, targets: local.targets }, counts, 'lw')
    return this.#runPut(key, value, supersedes, counts, placement, false, local.targets)
  }

  #runPut (key: string, value: NewValue | null, supersedes: Supersedes, counts: WriteCounts, placement: KeyPlacement, stampHere: boolean,
    counted?: readonly ReplicaTarget[]): Promise<CoordinatedWrite> {
    const { access, store, liveness, logger } = this.#options
    return new PutFsm({
      key, value, supersedes, counts, targets: placement.targets, n: this.replicas, stampHere, fallbacks: placement.fallbacks, handoff: placement.handoff,
      ...(counted === undefined ? {} : { counted: new Set(counted.map((t) => t.node)) })
    }, { access, store, liveness, deadlines: this.#deadlines, background: this.#background, logger }).run()
  }

  /**
   * This node's zone's part of a key's placement: the targets in its zone, and how many of the key's
   * primaries are in its zone (a fallback stands in for its primary's zone).
   */
  #zoneLocal (placement: KeyPlacement): { targets: ReplicaTarget[], primaries: number } {
    const { membership } = this.#options
    const ring = membership.ring()
    // The ring's zones are the ones placement used; a member that owns nothing yet (joining) has only its gossiped one.
    const zoneOf = (node: string): string => ring.zoneOf(node) ?? membership.member(node)?.zone ?? DEFAULT_ZONE
    const here = zoneOf(membership.selfId)
    return {
      targets: placement.targets.filter((t) => zoneOf(t.node) === here),
      primaries: placement.targets.filter((t) => zoneOf(t.hintFor ?? t.node) === here).length
    }
  }

  /**
   * Refuse up front, writing nothing, a request needing more replicas (or primaries) than the key
   * has targets: a cluster with fewer members than n, or too few nodes up.
   */
  #requirePlacement (key: string, placement: KeyPlacement, needs: { r?: number, pr?: number, w?: number, dw?: number, pw?: number }, local?: 'lr' | 'lw'): void {
    const targets = placement.targets.length
    const primaries = placement.targets.filter((t) => t.primary).length
    const all = Math.max(needs.r ?? 0, needs.w ?? 0, needs.dw ?? 0, 1)
    const prim = Math.max(needs.pr ?? 0, needs.pw ?? 0)
    const why = (count: number, what: string): string =>
      `the key has only ${count} ${what} in a cluster of ${this.#options.membership.members().length} members; nothing was sent`
    if (all > targets) {
      const parameter = local ?? (needs.r !== undefined ? 'r' : (needs.dw ?? 0) > (needs.w ?? 0) ? 'dw' : 'w')
      throw quorumUnavailable(key, this.replicas, { parameter, needed: all, answered: targets },
        local === undefined ? why(targets, 'replicas') : why(targets, 'replicas up in this node\'s zone'))
    }
    if (local !== undefined) return
    if (prim > primaries) {
      const parameter = needs.r !== undefined ? 'pr' : 'pw'
      throw quorumUnavailable(key, this.replicas, { parameter, needed: prim, answered: primaries }, why(primaries, 'primary replicas'))
    }
  }
}
