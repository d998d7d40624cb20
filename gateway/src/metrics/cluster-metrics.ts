import type { AntiEntropyView } from '../anti-entropy/anti-entropy-service.js'
import type { Membership } from '../membership/membership.js'
import type { NodeMetrics } from './node-metrics.js'

/** The parts of a cluster member its metrics are read from, each at scrape time. */
export interface ClusterMetricSources {
  readonly membership: Membership
  readonly replicas: number
  /** Hints kept here per owner, hints handed off, deliveries that failed (handoff/hinted-handoff.ts). */
  readonly hints: () => { readonly pending: ReadonlyMap<string, number>, readonly delivered: number, readonly failed: number }
  readonly antiEntropy: () => AntiEntropyView
  /** Keys streamed in and handed over by partition transfers. */
  readonly transfers: () => { readonly streamed: number, readonly dropped: number }
}

const TREE_STATES = ['building', 'ready', 'failed', 'closed'] as const
const MEMBER_STATES = ['up', 'down', 'unknown', 'joining', 'leaving', 'left'] as const

/**
 * Register the cluster side's metrics: members by status and phi per peer (gossip), gossip rounds
 * (this node's heartbeat: one a round), the ring's epoch and the partitions this node owns,
 * hints per owner, anti-entropy rounds, keys and bytes exchanged and the trees' state, and the
 * keys partition transfers moved. Nothing here runs between scrapes.
 */
export function registerClusterMetrics (metrics: NodeMetrics, sources: ClusterMetricSources): void {
  const { membership } = sources
  const self = membership.selfId
  metrics.scrapedGauge({
    name: 'levelring_members',
    help: 'Cluster members by status as this node sees them (down and unknown are this node\'s failure detector\'s verdict)',
    labelNames: ['status'],
    * read () {
      const counts = new Map<string, number>(MEMBER_STATES.map((s) => [s, 0]))
      for (const e of membership.entries()) {
        const verdict = membership.state(e.id)
        const status = e.status === 'left' ? 'left' : verdict === 'down' ? 'down' : verdict === 'unknown' ? 'unknown' : e.status
        counts.set(status, (counts.get(status) ?? 0) + 1)
      }
      for (const [status, n] of counts) yield [{ status }, n]
    }
  })
  metrics.scrapedGauge({
    name: 'levelring_member_phi',
    help: 'Phi-accrual suspicion level of each other member (taken for down above the phi threshold)',
    labelNames: ['peer'],
    * read () {
      for (const e of membership.entries()) if (e.id !== self && e.status !== 'left') yield [{ peer: e.id }, membership.phi(e.id)]
    }
  })
  metrics.scrapedTotal({
    name: 'levelring_gossip_rounds_total',
    help: 'Gossip rounds this node ran in its current generation (its heartbeat)',
    * read () { yield [{}, membership.self.heartbeat] }
  })
  metrics.scrapedGauge({
    name: 'levelring_ring_epoch',
    help: 'Epoch of the ring this node routes by (-1: none yet, the node is joining)',
    * read () { yield [{}, membership.ringState()?.epoch ?? -1] }
  })
  metrics.scrapedGauge({
    name: 'levelring_ring_partitions_owned',
    help: 'Partitions this node owns in the current ring (ring: current) and in the ring a join or leave moves to (ring: pending)',
    labelNames: ['ring'],
    * read () {
      const state = membership.ringState()
      yield [{ ring: 'current' }, state?.current.ring.partitionsOf(self).length ?? 0]
      if (state?.pending !== undefined) yield [{ ring: 'pending' }, state.pending.plan.ring.partitionsOf(self).length]
    }
  })
  metrics.scrapedGauge({
    name: 'levelring_ring_partitions_replicated',
    help: 'Partitions this node is one of the n replicas of in the current ring',
    * read () {
      const ring = membership.ringState()?.current.ring
      if (ring === undefined) { yield [{}, 0]; return }
      let count = 0
      for (let p = 0; p < ring.partitionCount; p++) if (ring.preferenceList(p, sources.replicas).includes(self)) count++
      yield [{}, count]
    }
  })
  metrics.scrapedGauge({
    name: 'levelring_hints_pending',
    help: 'Hints this node keeps for a member that did not acknowledge writes (sloppy quorum), by owner',
    labelNames: ['owner'],
    * read () { for (const [owner, n] of sources.hints().pending) yield [{ owner }, n] }
  })
  metrics.scrapedTotal({
    name: 'levelring_hints_delivered_total',
    help: 'Hints handed off to their owner (or to the key\'s replicas) and removed here',
    * read () { yield [{}, sources.hints().delivered] }
  })
  metrics.scrapedTotal({
    name: 'levelring_hint_deliveries_failed_total',
    help: 'Hinted handoff batches that failed (the owner is then backed off)',
    * read () { yield [{}, sources.hints().failed] }
  })
  metrics.scrapedTotal({
    name: 'levelring_anti_entropy_rounds_total',
    help: 'Periodic anti-entropy rounds run',
    * read () { yield [{}, sources.antiEntropy().rounds] }
  })
  metrics.scrapedTotal({
    name: 'levelring_anti_entropy_keys_total',
    help: 'Keys exchanged by anti-entropy (pulled: merged here, pushed: sent to a peer to merge)',
    labelNames: ['direction'],
    * read () {
      const { totals } = sources.antiEntropy()
      yield [{ direction: 'pulled' }, totals.keysPulled]
      yield [{ direction: 'pushed' }, totals.keysPushed]
    }
  })
  metrics.scrapedTotal({
    name: 'levelring_anti_entropy_bytes_total',
    help: 'Bytes anti-entropy exchanges sent and received',
    labelNames: ['direction'],
    * read () {
      const { totals } = sources.antiEntropy()
      yield [{ direction: 'sent' }, totals.bytesSent]
      yield [{ direction: 'received' }, totals.bytesReceived]
    }
  })
  metrics.scrapedGauge({
    name: 'levelring_anti_entropy_tree_state',
    help: 'State of this node\'s Merkle trees (1 for the current state)',
    labelNames: ['state'],
    * read () {
      const state = sources.antiEntropy().trees.state
      for (const s of TREE_STATES) yield [{ state: s }, s === state ? 1 : 0]
    }
  })
  metrics.scrapedGauge({
    name: 'levelring_anti_entropy_tree_keys',
    help: 'Keys counted by the bucket hashes of the partition trees this node holds in memory, as of each bucket\'s last computation (partitions evicted from the tree cache are not counted)',
    * read () { yield [{}, sources.antiEntropy().trees.keys] }
  })
  metrics.scrapedGauge({
    name: 'levelring_anti_entropy_trees_computed',
    help: 'Partitions whose Merkle tree is in memory and computed (after a start, the background pass and exchanges compute them one partition at a time)',
    * read () { yield [{}, sources.antiEntropy().trees.computedPartitions] }
  })
  metrics.scrapedTotal({
    name: 'levelring_partition_transfer_keys_total',
    help: 'Keys moved by partition transfers during joins and leaves (streamed: received here, handed_over: sent away)',
    labelNames: ['direction'],
    * read () {
      const t = sources.transfers()
      yield [{ direction: 'streamed' }, t.streamed]
      yield [{ direction: 'handed_over' }, t.dropped]
    }
  })
}
