import type { ClusterView, MemberView } from '../coordination/coordinator.js'
import type { HintedHandoff } from '../handoff/hinted-handoff.js'
import type { Membership } from './membership.js'
import type { Gossiper } from './gossiper.js'
import { waitingFor } from '../ring/ring-state.js'
import { DEFAULT_ZONE } from '../ring/ring.js'

export interface ClusterViewOptions {
  readonly membership: Membership
  readonly gossiper: Gossiper
  readonly handoff: HintedHandoff
  readonly replicas: number
  /** Q, shown even before this node has a ring. */
  readonly partitions: number
  readonly gossipIntervalMs: number
  readonly phiThreshold: number
  /** Keys streamed in and handed over since start (partition-transfer.ts). */
  readonly transfers: () => { streamed: number, dropped: number }
}

/** A peer as GET /v1/cluster shows it: the contract's Member plus what gossip and the detector say. */
interface PeerView extends MemberView {
  readonly id: string
  /** Its lifecycle status as gossiped (joining, up, leaving, left); `status` folds in this node's up/down verdict. */
  readonly memberStatus: string
  readonly alive: boolean
  readonly phi: number
  readonly heartbeat: number
  readonly generation: number
  readonly weight: number
  readonly zone: string
}

/**
 * GET /v1/cluster of a gossip member: this node, every other member as this node sees it (status
 * `down` when its failure detector says so, else the member's gossiped status; `unknown` for one
 * never heard from yet), the ring (current, and the pending one during a join or leave), the
 * hints this node keeps, and its gossip settings.
 */
export function clusterView (options: ClusterViewOptions): ClusterView {
  const { membership, gossiper, handoff, replicas } = options
  const self = membership.self
  const state = membership.ringState()
  const ring = state?.current.ring
  const shares = ring?.shares() ?? new Map<string, number>()
  const peers: PeerView[] = membership.entries().filter((e) => e.id !== self.id).map((e) => {
    const verdict = membership.state(e.id)
    const seen = membership.lastSeen(e.id)
    const status = e.status === 'left' ? 'left' : verdict === 'down' ? 'down' : verdict === 'unknown' ? 'unknown' : e.status
    return {
      id: e.id,
      address: e.address,
      status,
      ...(seen === undefined ? {} : { lastSeen: new Date(seen).toISOString() }),
      memberStatus: e.status,
      alive: verdict !== 'down',
      phi: Math.round(membership.phi(e.id) * 100) / 100,
      heartbeat: e.heartbeat,
      generation: e.generation,
      weight: e.weight,
      zone: e.zone ?? DEFAULT_ZONE
    }
  })
  const owners = new Set([...shares.keys(), ...membership.members().map((m) => m.id)])
  const view = {
    node: { id: self.id, address: self.address, status: self.status, zone: self.zone ?? DEFAULT_ZONE },
    peers,
    ring: {
      partitions: ring?.partitionCount ?? options.partitions,
      replicas,
      owners: [...owners].sort().map((id) => ({ id, partitions: shares.get(id) ?? 0 })),
      ...(ring === undefined ? {} : { digest: ring.digest(), epoch: state!.epoch }),
      ...(state?.pending === undefined
        ? {}
        : {
            pending: {
              digest: state.pending.plan.ring.digest(),
              owners: [...state.pending.plan.ring.shares()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, partitions]) => ({ id, partitions })),
              done: [...state.pending.done].sort(),
              waitingFor: waitingFor(state, replicas)
            }
          })
    },
    hints: handoff.view(),
    gossip: {
      generation: self.generation,
      heartbeat: self.heartbeat,
      intervalMs: options.gossipIntervalMs,
      phiThreshold: options.phiThreshold,
      seeds: gossiper.seeds,
      synced: gossiper.synced,
      claimant: membership.isClaimant()
    },
    transfers: options.transfers()
  }
  return view as unknown as ClusterView
}
