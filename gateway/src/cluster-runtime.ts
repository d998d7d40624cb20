import type { Logger } from 'pino'
import { PeerProber } from './cluster/peer-prober.js'
import { PreferenceListPlacement } from './cluster/placement.js'
import { PeerReachability } from './cluster/reachability.js'
import { StaticMembership } from './cluster/static-membership.js'
import type { MembershipSource } from './cluster/membership-source.js'
import { ReapGuard } from './coordination/reap-guard.js'
import { ClusterReplicaAccess } from './coordination/replica-access.js'
import type { NodeConfig, PeerMember } from './config.js'
import { DistributedCoordinator } from './distributed-coordinator.js'
import type { ReplicaStore } from './replica-store.js'
import type { InternodeAuth } from './rpc/internode-auth.js'
import { InternodeClient } from './rpc/internode-client.js'

/** How long a stopping node waits for late replies, read repairs and replication in flight. */
export const DRAIN_MS = 3_000

/** The cluster side of a member node: membership, liveness, RPC client, coordinator, prober. */
export interface ClusterRuntime {
  readonly coordinator: DistributedCoordinator
  readonly membership: MembershipSource
  readonly reachability: PeerReachability
  readonly client: InternodeClient
  /** The tombstone reaper's veto: reap only what no other replica could bring back. */
  readonly mayReap: ReapGuard['mayReap']
  /** Start probing peers (once the node listens). */
  start (): void
  /** Stop probing, wait for background work (at most DRAIN_MS), close the connection pools. */
  close (): Promise<void>
}

export interface ClusterRuntimeOptions {
  readonly config: NodeConfig
  readonly peers: readonly PeerMember[]
  readonly store: ReplicaStore
  readonly auth: InternodeAuth
  readonly address: () => string
  readonly logger: Logger
}

/**
 * Assemble a cluster member from a static membership (issue 6). The parts meet at interfaces so
 * issue 7 can swap them: a gossip MembershipSource for StaticMembership, a failure detector for
 * PeerReachability (Liveness), sloppy targets for PreferenceListPlacement.
 */
export function createClusterRuntime (options: ClusterRuntimeOptions): ClusterRuntime {
  const { config, peers, store, auth, address, logger } = options
  const membership = new StaticMembership({
    self: { id: config.nodeId, weight: config.weight }, selfAddress: address, peers, partitions: config.partitions
  })
  const reachability = new PeerReachability(config.nodeId)
  const client = new InternodeClient({ membership, auth, reachability, logger })
  const placement = new PreferenceListPlacement(membership, config.replicas)
  const access = new ClusterReplicaAccess(config.nodeId, store, client)
  const guard = new ReapGuard(placement, access)
  const coordinator = new DistributedCoordinator({
    membership,
    placement,
    liveness: reachability,
    access,
    store,
    replicas: config.replicas,
    address,
    logger
  })
  const prober = new PeerProber(membership, client, logger, config.probeIntervalMs)
  warnAboutShape(config, membership, logger)
  return {
    coordinator,
    membership,
    reachability,
    client,
    mayReap: async (key, object) => guard.mayReap(key, object),
    start: () => prober.start(),
    close: async () => {
      await prober.stop()
      await coordinator.drain(DRAIN_MS)
      await client.close()
    }
  }
}

/** Settings that work but not as an operator likely expects. */
function warnAboutShape (config: NodeConfig, membership: MembershipSource, logger: Logger): void {
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
