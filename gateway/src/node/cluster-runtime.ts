import type { Logger } from 'pino'
import { ANTI_ENTROPY_PREFIX } from '../anti-entropy/anti-entropy-protocol.js'
import { antiEntropyRoutes } from '../anti-entropy/anti-entropy-routes.js'
import { AntiEntropyService } from '../anti-entropy/anti-entropy-service.js'
import { PartitionTrees } from '../anti-entropy/partition-trees.js'
import { KeyHashIndex } from '../anti-entropy/key-hash-index.js'
import { PartitionRecovery } from '../anti-entropy/partition-recovery.js'
import { PeerReachability } from '../membership/reachability.js'
import type { Member } from '../membership/member.js'
import { ReapGuard } from '../coordination/reap-guard.js'
import { ClusterReplicaAccess } from '../coordination/replica-access.js'
import type { NodeConfig } from './config.js'
import { DistributedCoordinator } from '../coordination/distributed-coordinator.js'
import type { ReplicaStore } from '../replica/replica-store.js'
import type { NodeTls } from './node-tls.js'
import { FaultInjector } from '../internode/fault-injection.js'
import type { InternodeAuth } from '../internode/internode-auth.js'
import { InternodeClient } from '../internode/internode-client.js'
import type { InternodeExtension } from '../internode/internode-routes.js'
import type { ByteSpace, NodeStorage } from '../replica/node-storage.js'
import { HintStore } from '../handoff/hint-store.js'
import { SloppyPlacement } from '../ring/sloppy-placement.js'
import type { Membership } from '../membership/membership.js'
import type { MemberLifecycle } from '../membership/member-lifecycle.js'
import { MembershipService, openMembership } from '../membership/membership-service.js'
import type { NodeMetrics } from '../metrics/node-metrics.js'

/** How long a stopping node waits for late replies, read repairs and replication in flight. */
export const DRAIN_MS = 3_000

/** The cluster side of a member node: membership, liveness, RPC client, coordinator, gossip. */
export interface ClusterRuntime {
  readonly coordinator: DistributedCoordinator
  readonly membership: Membership
  readonly reachability: PeerReachability
  readonly client: InternodeClient
  /** The tombstone reaper's veto: reap only what no other replica could bring back. */
  readonly mayReap: ReapGuard['mayReap']
  /** Merkle anti-entropy: the partition trees, periodic rounds and POST /v1/admin/repair. */
  readonly antiEntropy: AntiEntropyService
  /** Whether this node lost its data and which partitions are still rebuilding (its replica reads say so). */
  readonly recovery: PartitionRecovery
  /** The internode fault-injection switch, when started with --enable-fault-injection (a test facility). */
  readonly faults: FaultInjector | undefined
  /** Internode endpoints beyond the replica ones (gossip, partitions, anti-entropy), for the internode router. */
  readonly internodeExtensions: readonly InternodeExtension[]
  /** Gossip, hints, partition moves, join and leave (membership/membership-service.ts). */
  readonly membershipService: MembershipService
  /** POST /v1/admin/join and /leave. */
  readonly lifecycle: MemberLifecycle
  /** Resolves once this node has left the cluster (POST /v1/admin/leave) and handed everything over. */
  readonly left: Promise<void>
  /** The digest of the ring this node routes by; undefined before it has one (joining). */
  ringDigest (): string | undefined
  /** Start gossip (the first round awaited, bounded), anti-entropy, handoff (once the node listens). */
  start (): Promise<void>
  /** Stop the loops, wait for background work (at most DRAIN_MS), close the connection pools. */
  close (): Promise<void>
}

export interface ClusterRuntimeOptions {
  readonly config: NodeConfig
  readonly peers: readonly Member[]
  readonly store: ReplicaStore
  readonly auth: InternodeAuth
  readonly address: () => string
  readonly logger: Logger
  /** The engine's object space, scanned to build the Merkle trees. */
  readonly objects: ByteSpace
  /** The node's engine: cluster state in its metadata, hints in their own space. */
  readonly storage: NodeStorage
  /** The node's TLS material: internode calls go over https, presenting its certificate. */
  readonly tls: NodeTls | undefined
  /** Fed by the internode client and read repair; absent with --metrics off. */
  readonly metrics?: NodeMetrics
  /** Why the data directory may be missing writes it acknowledged (node/actor-epoch.ts): its partitions start rebuilding. */
  readonly behind?: string
}

/**
 * Assemble a cluster member: the gossip membership (its founding members from --peers, or joining
 * through --seeds) is both the membership and the Liveness (phi-accrual per member), requests
 * are placed by sloppy quorum (ring/sloppy-placement.ts) with hints kept in the engine.
 */
export async function createClusterRuntime (options: ClusterRuntimeOptions): Promise<ClusterRuntime> {
  const { config, peers, store, auth, address, logger } = options
  const reachability = new PeerReachability(config.nodeId)
  // Read before openMembership stores a generation: no generation yet means an empty data directory.
  const fresh = (await options.storage.meta.get('generation')) === undefined
  const opened = await openMembership({ config, peers, storage: options.storage, reachability, logger })
  const membership = opened.membership
  const faults = config.enableFaultInjection ? new FaultInjector() : undefined
  if (faults !== undefined) logger.warn('fault injection enabled (--enable-fault-injection): /internal/v1/faults can cut this node off; for tests only')
  const metrics = options.metrics
  const client = new InternodeClient({ membership, auth, reachability, logger, faults, tls: options.tls, metrics })
  const hints = await HintStore.open(options.storage, logger)
  const recovery = await PartitionRecovery.open({
    meta: options.storage.meta,
    membership,
    replicas: config.replicas,
    partitionCount: config.partitions,
    fresh,
    behind: options.behind,
    post: async (node, path, body, type, timeoutMs) => await client.post(node, path, body, type, timeoutMs),
    logger
  })
  const placement = new SloppyPlacement(membership, membership, config.replicas)
  const access = new ClusterReplicaAccess(config.nodeId, store, client, hints, (key) => recovery.rebuildingKey(key), KeyHashIndex.attach(options.storage))
  // The reaper asks every primary of the key and every other member (hints, stray copies), including those taken for down.
  const guard = new ReapGuard(placement, access,
    (key) => { const ring = membership.ring(); return ring.preferenceList(ring.partitionOf(key), config.replicas) },
    () => membership.members().map((m) => m.id))
  const membershipService = new MembershipService({ config, opened, storage: options.storage, store, client, hints, placement, access, address, rebuilding: (p) => recovery.rebuilding(p), logger })
  const coordinator = new DistributedCoordinator({
    membership,
    placement,
    liveness: membership,
    access,
    store,
    replicas: config.replicas,
    address,
    logger,
    view: () => membershipService.view(),
    onRepaired: metrics === undefined ? undefined : (_key, nodes) => { metrics.readRepaired(nodes.length) }
  })
  const index = KeyHashIndex.attach(options.storage)
  const trees = new PartitionTrees({ store, index, objects: options.objects, partitionCount: config.partitions, ...(config.aaeBuckets === undefined ? {} : { buckets: config.aaeBuckets }), logger })
  const antiEntropy = new AntiEntropyService({
    membership,
    replicas: config.replicas,
    trees,
    store,
    client,
    intervalMs: config.antiEntropyIntervalMs,
    partitionsPerRound: config.antiEntropyPartitionsPerRound,
    tombstoneGraceMs: config.tombstoneGraceMs,
    logger,
    ...(config.clockOffsetMs === 0 ? {} : { now: () => Date.now() + config.clockOffsetMs }),
    priority: () => recovery.priority(),
    onInSync: (p, peer) => recovery.inSync(p, peer),
    restore: recovery
  })
  const antiEntropyHandler = antiEntropyRoutes({
    trees,
    index,
    store,
    replicates: (p) => antiEntropy.replicates(p),
    maxBodyBytes: Infinity, // each endpoint's cap is the internode router's (internode/body-limits.ts)
    logger,
    restoring: (p) => recovery.pending(p)
  })
  warnAboutShape(config, membership, logger)
  return {
    coordinator,
    membership,
    reachability,
    client,
    mayReap: async (key, object) => guard.mayReap(key, object),
    antiEntropy,
    recovery,
    faults,
    internodeExtensions: [{ prefix: ANTI_ENTROPY_PREFIX, handle: antiEntropyHandler }, recovery.route(), ...membershipService.routes()],
    membershipService,
    lifecycle: membershipService.lifecycle,
    left: membershipService.lifecycle.left,
    ringDigest: () => membership.ringState()?.current.ring.digest(),
    start: async () => { recovery.start(); await membershipService.start(); antiEntropy.start() },
    close: async () => {
      await recovery.stop()
      await membershipService.stop()
      await antiEntropy.close()
      await coordinator.drain(DRAIN_MS)
      await client.close()
    }
  }
}

/** Settings that work but not as an operator likely expects. */
function warnAboutShape (config: NodeConfig, membership: Membership, logger: Logger): void {
  const members = membership.members().length
  if (members < config.replicas) {
    logger.warn({ members, replicas: config.replicas }, `n=${config.replicas} but the cluster has ${members} members: every key has only ${members} replicas`)
  }
  // Equal nodes own floor(Q/m) or ceil(Q/m) partitions: the best any assignment can do.
  const q = config.partitions
  const equal = membership.members().every((m) => m.weight === config.weight)
  if (equal && Math.ceil(q / members) > 1.15 * (q / members)) {
    logger.warn({ partitions: q, members }, `${q} partitions cannot be shared among ${members} equal members within 15% of the mean; ` +
      `a new cluster of this size should use --partitions ${2 ** Math.ceil(Math.log2(7 * members))} or more`)
  }
}
