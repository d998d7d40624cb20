import type { Logger } from 'pino'
import type { PeerReachability } from './reachability.js'
import type { MemberStatus } from './member-table.js'
import { Ring } from '../ring/ring.js'
import type { NodeConfig } from '../node/config.js'
import type { Member } from './member.js'
import type { ClusterView } from '../coordination/coordinator.js'
import type { ReplicaAccess } from '../coordination/replica-access.js'
import type { HintStore } from '../handoff/hint-store.js'
import { HintedHandoff } from '../handoff/hinted-handoff.js'
import type { SloppyPlacement } from '../ring/sloppy-placement.js'
import type { ReplicaStore } from '../replica/replica-store.js'
import type { InternodeClient } from '../internode/internode-client.js'
import type { InternodeExtension } from '../internode/internode-routes.js'
import { durable, type NodeStorage } from '../replica/node-storage.js'
import { ClusterStateStore } from './cluster-state-store.js'
import { clusterView } from './cluster-view.js'
import { nextGeneration, raiseGeneration } from './generation.js'
import { Membership, type StoredMember } from './membership.js'
import { Gossiper } from './gossiper.js'
import { MemberLifecycle } from './member-lifecycle.js'
import { SeedFounding } from './seed-founding.js'
import { partitionStreamRoute } from '../handoff/partition-stream.js'
import { PartitionTransfer } from '../handoff/partition-transfer.js'
import { ringPlan, ringState, type RingState } from '../ring/ring-state.js'

/** Gossip rounds a node waits after a ring change before it streams or drops partitions: time for the change to reach everyone. */
export const SETTLE_ROUNDS = 2

/** Metadata key written fsynced after a hand-over batch is merged (its value is only the time). */
const HANDOVER_SYNC_KEY = 'handover-sync'

/** Gossip rounds a never-heard member counts as up (worth trying) after this node starts. */
export const UNHEARD_GRACE_ROUNDS = 5

export interface OpenMembershipOptions {
  readonly config: NodeConfig
  /** The other founding members (--peers id=host:port); empty for a node joining through --seeds. */
  readonly peers: readonly Member[]
  readonly storage: NodeStorage
  /** The internode client's record of refused connections: a refusal takes a member down at once. */
  readonly reachability: PeerReachability
  readonly logger: Logger
}

/** The membership as stored and configured, ready for the client and coordinator to be built on. */
export interface OpenedMembership {
  readonly membership: Membership
  readonly stateStore: ClusterStateStore
}

/**
 * Build this node's gossip membership: a generation above every earlier one of its data
 * directory, the cluster state it stored (ring, members, its own status), and the founding
 * members of --peers. A node with no stored ring bootstraps one from --peers (Ring.create over
 * them and itself, epoch 0: every founding node derives the same) or, with only --seeds, has
 * none until gossip brings the cluster's (it is joining).
 */
export async function openMembership (options: OpenMembershipOptions): Promise<OpenedMembership> {
  const { config, peers, storage, reachability, logger } = options
  const stateStore = new ClusterStateStore(storage.meta, logger)
  const stored = await stateStore.load()
  const generation = await nextGeneration(storage.meta)
  let ring: RingState | undefined = stored.ring
  if (ring === undefined && peers.length > 0) {
    const founders = [{ id: config.nodeId, weight: config.weight }, ...peers.map((p) => ({ id: p.id, weight: p.weight }))]
    ring = ringState(0, ringPlan(founders, Ring.create(founders, { partitionCount: config.partitions })))
  }
  if (ring !== undefined && ring.current.ring.partitionCount !== config.partitions) {
    logger.error({ stored: ring.current.ring.partitionCount, configured: config.partitions },
      'this node\'s stored ring has another partition count than --partitions; the stored one is kept (Q is fixed for a cluster\'s life)')
  }
  const inRing = ring?.current.members.some((m) => m.id === config.nodeId) === true ||
    ring?.pending?.plan.members.some((m) => m.id === config.nodeId) === true
  // A restart goes on where it was (joining, up or leaving); a node that had left rejoins; a founding node is up.
  const status: MemberStatus = ring === undefined || stored.selfStatus === 'left' ? 'joining'
    : stored.selfStatus ?? (inRing ? 'up' : 'joining')
  const seeds = new Map<string, StoredMember>(stored.members.map((m) => [m.id, m]))
  for (const p of peers) seeds.set(p.id, { id: p.id, address: p.address, weight: p.weight, status: seeds.get(p.id)?.status ?? 'up' })
  const membership = new Membership({
    self: { id: config.nodeId, address: `${config.listen.host}:${config.listen.port}`, weight: config.weight, zone: config.zone, generation, status },
    seeds: [...seeds.values()].filter((s) => s.id !== config.nodeId),
    ringState: ring,
    replicas: config.replicas,
    phi: { threshold: config.phiThreshold, firstHeartbeatEstimateMs: config.gossipIntervalMs },
    unheardGraceMs: UNHEARD_GRACE_ROUNDS * config.gossipIntervalMs,
    refusedAt: (id) => reachability.refusedAt(id),
    activityIntervalMs: config.gossipIntervalMs,
    logger
  })
  logger.info({ generation, status, ringEpoch: ring?.epoch ?? null, members: membership.members().map((m) => m.id) }, 'gossip membership opened')
  return { membership, stateStore }
}

export interface MembershipServiceOptions {
  readonly config: NodeConfig
  readonly opened: OpenedMembership
  readonly storage: NodeStorage
  readonly store: ReplicaStore
  readonly client: InternodeClient
  readonly hints: HintStore
  readonly placement: SloppyPlacement
  readonly access: ReplicaAccess
  /** This node's address, known once it listens. */
  readonly address: () => string
  /** True while this node is rebuilding partition p (its partition pages say so). */
  readonly rebuilding?: (p: number) => boolean
  readonly logger: Logger
}

/**
 * The membership side of a node, assembled: gossip (gossiper.ts) over the membership
 * (membership.ts), the cluster state stored on every change, partition streaming and
 * sweeping on ring changes (partition-transfer.ts), hinted handoff (handoff/), and join/leave
 * (member-lifecycle.ts).
 */
export class MembershipService {
  readonly membership: Membership
  readonly gossiper: Gossiper
  readonly handoff: HintedHandoff
  readonly transfer: PartitionTransfer
  readonly lifecycle: MemberLifecycle
  /** Founding the first ring from --seeds alone; `founding.waitingFor` says what a node without a ring waits for. */
  readonly founding: SeedFounding
  readonly hints: HintStore
  readonly #options: MembershipServiceOptions
  readonly #stateStore: ClusterStateStore

  constructor (options: MembershipServiceOptions) {
    const { config, opened, storage, store, client, hints, placement, access, logger } = options
    this.#options = options
    this.membership = opened.membership
    this.#stateStore = opened.stateStore
    this.hints = hints
    const membership = this.membership
    const settleMs = SETTLE_ROUNDS * config.gossipIntervalMs
    this.gossiper = new Gossiper({
      membership,
      client,
      seeds: config.seeds,
      intervalMs: config.gossipIntervalMs,
      logger,
      onSuperseded: async (seen) => {
        membership.rebase(await raiseGeneration(storage.meta, Math.max(seen, Date.now())))
      },
      onRound: () => { this.founding.step() }
    })
    this.founding = new SeedFounding({
      membership, seeds: config.seeds, answeredAt: (address) => this.gossiper.answeredAt(address), partitions: config.partitions, logger
    })
    this.handoff = new HintedHandoff({
      hints, membership, access, store, placement, replicas: config.replicas, logger, hintWindowMs: config.hintWindowMs, hintsPerMemberMax: config.hintsPerMemberMax
    })
    this.transfer = new PartitionTransfer({
      membership, store, storage, client, placement, access, replicas: config.replicas, settleMs, synced: () => this.gossiper.synced, logger
    })
    this.lifecycle = new MemberLifecycle({ membership, gossiper: this.gossiper, transfer: this.transfer, handoff: this.handoff, replicas: config.replicas, logger })
    membership.onChange(() => this.#save())
  }

  /** The internode endpoints of gossip and partition streaming. */
  routes (): InternodeExtension[] {
    const { storage, store } = this.#options
    return [...this.gossiper.routes(), partitionStreamRoute({
      storage,
      counters: this.transfer.streamCounters,
      ...(this.#options.rebuilding === undefined ? {} : { rebuilding: this.#options.rebuilding }),
      store,
      // One fsynced write makes every earlier one durable: the engine's commit log is one sequence.
      syncLog: async () => { await storage.meta.put(HANDOVER_SYNC_KEY, String(Date.now()), durable(true)) },
      maxBodyBytes: Infinity // each endpoint's cap is the internode router's (internode/body-limits.ts)
    })]
  }

  /** GET /v1/cluster. */
  view (): ClusterView {
    const { config } = this.#options
    return clusterView({
      membership: this.membership,
      gossiper: this.gossiper,
      handoff: this.handoff,
      replicas: config.replicas,
      partitions: config.partitions,
      gossipIntervalMs: config.gossipIntervalMs,
      phiThreshold: config.phiThreshold,
      transfers: () => this.transfer.counts
    })
  }

  /** Once the node listens: take its real address, gossip (the first round is awaited, bounded), hand off, move partitions. */
  async start (): Promise<void> {
    this.membership.updateSelf({ address: this.#options.address() })
    this.#save()
    this.gossiper.start()
    await this.gossiper.settleFirstRound()
    this.handoff.start()
    this.transfer.start()
  }

  /** Stop every loop and store the state a last time. */
  async stop (): Promise<void> {
    this.lifecycle.stop()
    await this.gossiper.stop()
    await this.transfer.stop()
    await this.handoff.stop()
    await this.#stateStore.flush()
  }

  #save (): void {
    const membership = this.membership
    this.#stateStore.save(() => ({
      ring: membership.ringState(),
      selfStatus: membership.self.status,
      members: membership.entries().filter((e) => e.id !== membership.selfId)
        .map(({ id, address, weight, status }) => ({ id, address, weight, status }))
    }))
  }
}
