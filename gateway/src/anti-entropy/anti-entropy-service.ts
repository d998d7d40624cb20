import type { Logger } from 'pino'
import type { Membership } from '../membership/membership.js'
import type { Ring } from '../ring/ring.js'
import type { ReplicaStore } from '../replica/replica-store.js'
import type { RootAnswer } from './anti-entropy-protocol.js'
import { exchangePartition, tombstoneOlderThan } from './partition-exchange.js'
import type { TreesStats, PartitionTrees } from './partition-trees.js'
import { noTraffic, RemoteReplica, type InternodePoster } from './remote-replica.js'
import type { RangeRestorePlan } from './partition-recovery.js'
import { restoreRange } from './range-restore.js'
import { streamConcurrency } from '../handoff/partition-transfer.js'

/** How long one anti-entropy call may take before the peer counts as unreachable for this round. */
export const EXCHANGE_CALL_TIMEOUT_MS = 10_000

/** Differing keys one periodic exchange of one partition handles; a repair handles them all. */
export const PERIODIC_MAX_KEYS = 2_000

/** Partitions per roots call: two calls cover every partition two nodes share at the default Q of 2,048. */
export const ROOTS_BATCH = 1_024

/** Differing partitions exchanged at once: enough to overlap round trips, few enough to keep the event loop free for requests. */
export const PARTITION_CONCURRENCY = 4

/**
 * Delay before a round that should not wait a whole interval: the first one after start (the node
 * serves by then), and the next one while a rebuilding node still has partitions to bring current.
 */
export const PROMPT_ROUND_DELAY_MS = 250

/** How long a repair waits for a node with an empty data directory to learn whether it lost its data. */
export const RECOVERY_DECISION_WAIT_MS = 10_000

/** Exchange records kept for /v1/cluster. */
export const RECORDS_KEPT = 8

export interface AntiEntropyOptions {
  readonly membership: Membership
  /** Replication factor n: a partition's replicas are the first n nodes of its preference list. */
  readonly replicas: number
  readonly trees: PartitionTrees
  readonly store: ReplicaStore
  readonly client: InternodePoster
  /** Time between periodic rounds (ms); 0 turns periodic exchanges off (repair() still works). */
  readonly intervalMs: number
  /** Partitions one periodic round compares (round robin over the partitions this node replicates). */
  readonly partitionsPerRound: number
  /** Tombstones older than this are the reaper's: not sent to a replica that holds nothing (see PartitionExchangeOptions). */
  readonly tombstoneGraceMs: number
  readonly logger: Logger
  /** Wall clock (ms); tests may pass another. */
  readonly now?: () => number
  /** Partitions a periodic round compares before its round-robin share (a rebuilding node's, partition-recovery.ts). */
  readonly priority?: () => readonly number[]
  /** Told each time partition p here was found equal to `peer`'s, or was brought up to it by a complete exchange. */
  readonly onInSync?: (p: number, peer: string) => void
  /** A node that lost its data: partitions pulled whole from one replica before they are compared (partition-recovery.ts). */
  readonly restore?: RangeRestorePlan
}

/** What one round did with one peer. */
export interface ExchangeRecord {
  readonly peer: string
  readonly trigger: 'periodic' | 'repair'
  readonly startedAt: string
  readonly durationMs: number
  /** Partitions whose roots were compared with this peer. */
  readonly partitionsCompared: number
  /** Of those, partitions whose roots differed. */
  readonly partitionsDiffering: number
  /** Keys whose versions differed. */
  readonly keysDiffering: number
  /** Keys received from the peer and merged here. */
  readonly keysPulled: number
  /** Keys sent to the peer to merge. */
  readonly keysPushed: number
  readonly requests: number
  readonly bytesSent: number
  readonly bytesReceived: number
  /** Partitions the peer could not compare yet (its trees were being built). */
  readonly partitionsNotReady?: number
  /** Why the round with this peer stopped early (unreachable, refused). */
  readonly error?: string
}

/** The answer of POST /v1/admin/repair: one full round over every partition this node replicates. */
export interface RepairReport {
  readonly node: string
  /** Partitions this node replicates (each compared with each of its other replicas). */
  readonly partitions: number
  /** Partition x peer comparisons made. */
  readonly comparisons: number
  readonly partitionsDiffering: number
  readonly keysDiffering: number
  /** keysPulled + keysPushed. */
  readonly keysExchanged: number
  readonly keysPulled: number
  readonly keysPushed: number
  readonly requests: number
  readonly bytesSent: number
  readonly bytesReceived: number
  readonly durationMs: number
  /** Peers that could not be compared with (unreachable or refusing). */
  readonly unreachable: readonly string[]
  readonly peers: readonly ExchangeRecord[]
}

/** The anti-entropy part of GET /v1/cluster. */
export interface AntiEntropyView {
  readonly trees: TreesStats
  readonly intervalMs: number
  readonly partitionsPerRound: number
  /** Partitions this node replicates. */
  readonly replicatedPartitions: number
  readonly rounds: number
  readonly totals: { readonly keysPulled: number, readonly keysPushed: number, readonly bytesSent: number, readonly bytesReceived: number }
  /** The latest exchanges, newest first. */
  readonly lastExchanges: readonly ExchangeRecord[]
}

const NO_PARTITIONS: { partitions: number[], peers: Map<number, string[]> } = Object.freeze({ partitions: [], peers: new Map() })

/**
 * Merkle anti-entropy (Dynamo 4.7): every replica of a partition keeps a hash tree of it
 * (PartitionTrees); periodically, and on demand (repair()), this node compares its trees with the
 * other replicas' and exchanges only the keys that differ, in both directions.
 *
 * A round takes some partitions this node replicates (round robin, `partitionsPerRound` at a time;
 * all of them for a repair), asks each peer that also replicates them for their roots in one call,
 * and exchanges only the partitions whose roots differ, one peer after another per partition, so
 * what the first peer supplied is not fetched again from the second (whose root then usually
 * matches ours). Rounds never overlap: a repair waits for the periodic round in progress.
 */
export class AntiEntropyService {
  readonly #options: AntiEntropyOptions
  readonly #now: () => number
  readonly #records: ExchangeRecord[] = []
  readonly #totals = { keysPulled: 0, keysPushed: 0, bytesSent: 0, bytesReceived: 0 }
  #replicated: { ring: Ring, partitions: number[], peers: Map<number, string[]> } | undefined
  #cursor = 0
  #rounds = 0
  #timer: NodeJS.Timeout | undefined
  #prompt: NodeJS.Timeout | undefined
  #tail: Promise<unknown> = Promise.resolve()
  #busy = false
  #closed = false

  constructor (options: AntiEntropyOptions) {
    this.#options = options
    this.#now = options.now ?? Date.now
  }

  /**
   * Start building the trees and, when an interval is set, the periodic rounds: the first one
   * promptly (a restarted node's partitions are compared within start-up plus one round, not one
   * interval later), retried every PROMPT_ROUND_DELAY_MS until one compared partitions with a peer.
   */
  start (): void {
    this.#options.trees.start()
    if (this.#options.intervalMs > 0 && this.#timer === undefined) {
      this.#timer = setInterval(() => { void this.#periodic() }, this.#options.intervalMs).unref()
      const until = performance.now() + this.#options.intervalMs
      const first = async (): Promise<void> => {
        await this.#periodic()
        const compared = this.#records.some((r) => r.partitionsCompared > 0)
        if (!compared && !this.#closed && performance.now() + PROMPT_ROUND_DELAY_MS < until) this.#soon(first)
      }
      this.#soon(first)
    }
  }

  /** Run `round` after PROMPT_ROUND_DELAY_MS (one such timer at a time). */
  #soon (round: () => Promise<void>): void {
    if (this.#prompt !== undefined || this.#closed) return
    this.#prompt = setTimeout(() => { this.#prompt = undefined; void round() }, PROMPT_ROUND_DELAY_MS).unref()
  }

  /** True when this node is one of the n replicas of partition p under the current ring. */
  replicates (p: number): boolean {
    return this.#layout().peers.has(p)
  }

  /** Compare every partition this node replicates with every other replica now, exchanging all differing keys. */
  async repair (): Promise<RepairReport> {
    // A node with an empty data directory first learns whether it lost its data (then it pulls partitions whole).
    await this.#options.restore?.decided(RECOVERY_DECISION_WAIT_MS)
    return this.#exclusive(async () => {
      // Every partition indexed is enough: a tree the background pass has not computed yet is computed for its exchange.
      await this.#options.trees.whenIndexed()
      const started = performance.now()
      const { partitions } = this.#layout()
      const records = await this.#round(partitions, 'repair', Infinity)
      const sum = (f: (r: ExchangeRecord) => number): number => records.reduce((n, r) => n + f(r), 0)
      return {
        node: this.#options.membership.selfId,
        partitions: partitions.length,
        comparisons: sum((r) => r.partitionsCompared),
        partitionsDiffering: sum((r) => r.partitionsDiffering),
        keysDiffering: sum((r) => r.keysDiffering),
        keysExchanged: sum((r) => r.keysPulled + r.keysPushed),
        keysPulled: sum((r) => r.keysPulled),
        keysPushed: sum((r) => r.keysPushed),
        requests: sum((r) => r.requests),
        bytesSent: sum((r) => r.bytesSent),
        bytesReceived: sum((r) => r.bytesReceived),
        durationMs: Math.round(performance.now() - started),
        unreachable: records.filter((r) => r.error !== undefined).map((r) => r.peer),
        peers: records
      }
    })
  }

  view (): AntiEntropyView {
    return {
      trees: this.#options.trees.stats(),
      intervalMs: this.#options.intervalMs,
      partitionsPerRound: this.#options.partitionsPerRound,
      replicatedPartitions: this.#layout().partitions.length,
      rounds: this.#rounds,
      totals: { ...this.#totals },
      lastExchanges: [...this.#records].reverse()
    }
  }

  /** Stop the rounds, wait for the one in progress (each call has its own timeout), stop the trees. */
  async close (): Promise<void> {
    this.#closed = true
    clearInterval(this.#timer)
    this.#timer = undefined
    clearTimeout(this.#prompt)
    this.#prompt = undefined
    await this.#options.trees.close()
    await this.#tail
  }

  async #periodic (): Promise<void> {
    const { trees } = this.#options
    if (this.#busy || this.#closed) return
    // An empty directory's node compares nothing until it knows whether it lost its data (then it pulls partitions whole).
    if (this.#options.restore?.deciding === true) return
    if (trees.state === 'failed') { trees.start(); return }
    if (trees.state !== 'ready' && trees.state !== 'building') return
    await this.#exclusive(async () => {
      const { partitions } = this.#layout()
      if (partitions.length === 0) return
      const count = Math.min(this.#options.partitionsPerRound, partitions.length)
      const urgent = (this.#options.priority?.() ?? []).filter((p) => this.replicates(p)).slice(0, count)
      const chosen = urgent.length > 0 ? urgent : Array.from({ length: count }, (_, i) => partitions[(this.#cursor + i) % partitions.length]!)
      if (urgent.length === 0) this.#cursor = (this.#cursor + count) % partitions.length
      const records = await this.#round(chosen, 'periodic', PERIODIC_MAX_KEYS)
      // A rebuilding node that made progress goes on without waiting an interval: its partitions are not trusted until then.
      const progressed = records.some((r) => r.keysPulled > 0 || r.partitionsCompared > 0)
      if (urgent.length > 0 && progressed) this.#soon(async () => { await this.#periodic() })
    }).catch((err: unknown) => this.#options.logger.error({ err }, 'anti-entropy round failed'))
  }

  /** Run `work` after every round queued before it; rounds never overlap. */
  async #exclusive<T> (work: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(async () => {
      this.#busy = true
      try { return await work() } finally { this.#busy = false }
    })
    this.#tail = run.catch(() => {})
    return run
  }

  /** One round over `partitions`: roots from every peer sharing them, then the differing partitions exchanged. */
  async #round (partitions: readonly number[], trigger: ExchangeRecord['trigger'], maxKeys: number): Promise<ExchangeRecord[]> {
    const { trees, store, client, logger } = this.#options
    const layout = this.#layout()
    const startedAt = new Date(this.#now()).toISOString()
    const started = performance.now()
    const stats = new Map<string, ReturnType<typeof newStats>>()
    const statsOf = (peer: string): ReturnType<typeof newStats> => {
      let s = stats.get(peer)
      if (s === undefined) stats.set(peer, s = newStats(new RemoteReplica(client, peer, EXCHANGE_CALL_TIMEOUT_MS, noTraffic())))
      return s
    }
    const reapable = (object: Parameters<typeof tombstoneOlderThan>[0]): boolean =>
      tombstoneOlderThan(object, this.#now() - this.#options.tombstoneGraceMs)

    // A node that lost its data pulls each partition whole from one replica first; the comparison below confirms it.
    await this.#restoreRanges(partitions, layout, statsOf, reapable)
    const restore = this.#options.restore
    const byPeer = new Map<string, number[]>()
    // A partition whose key hash index is still being built has no tree to compare yet: skipped, not wrong.
    // So is one still to be pulled whole.
    for (const p of partitions.filter((p) => trees.isReady(p) && restore?.pending(p) !== true)) {
      for (const peer of layout.peers.get(p) ?? []) {
        let list = byPeer.get(peer)
        if (list === undefined) byPeer.set(peer, list = [])
        list.push(p)
      }
    }
    for (const peer of byPeer.keys()) statsOf(peer)

    // Roots: one call per peer (per ROOTS_BATCH partitions), all peers at once.
    const theirRoots = new Map<number, Map<string, Buffer>>()
    await Promise.all([...byPeer].map(async ([peer, shared]) => {
      const s = stats.get(peer)!
      try {
        for (let i = 0; i < shared.length; i += ROOTS_BATCH) {
          const batch = shared.slice(i, i + ROOTS_BATCH)
          const roots: RootAnswer[] = await s.remote.roots(trees.shape, batch)
          for (const [j, p] of batch.entries()) {
            const root = roots[j]!
            if (root === 'not-ready') { s.notReady++; continue }
            if (root === 'not-replica') continue // the peer routes by another ring (membership changing): not ours to compare
            s.compared++
            if ((await trees.local(p)).root().equals(root)) { this.#options.onInSync?.(p, peer); continue }
            s.differingPartitions++
            let peers = theirRoots.get(p)
            if (peers === undefined) theirRoots.set(p, peers = new Map())
            peers.set(peer, root)
          }
        }
      } catch (err) {
        s.error = (err as Error).message
      }
    }))

    // Exchanges: a few partitions at a time, each with its differing peers one after another.
    const differing = [...theirRoots.keys()]
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < differing.length && !this.#closed) {
        const p = differing[next++]!
        for (const [peer, root] of theirRoots.get(p)!) {
          const s = stats.get(peer)!
          if (s.error !== undefined) continue
          const tree = await trees.local(p)
          if (tree.root().equals(root)) { this.#options.onInSync?.(p, peer); continue } // what an earlier peer sent made us equal to this one
          try {
            let complete = false
            // A repair goes on until nothing differs; a periodic round handles maxKeys and leaves the rest to the next.
            for (let pass = 0; pass < 1_000; pass++) {
              const result = await exchangePartition(p, pass === 0 ? tree : await trees.local(p), s.remote, store, { peerRoot: root, maxKeys: Math.min(maxKeys, 50_000), reapable })
              if (pass === 0) s.differingKeys += result.differing
              s.pulled += result.pulled
              s.pushed += result.pushed
              if ((result.damaged ?? 0) > 0) logger.error({ peer, partition: p, keys: result.damaged }, 'anti-entropy skipped keys whose stored set here does not decode: delete them or restore them from a replica')
              if (!result.truncated) complete = true
              if (!result.truncated || maxKeys !== Infinity) break
            }
            if (complete) this.#options.onInSync?.(p, peer)
          } catch (err) {
            s.error = (err as Error).message
            logger.warn({ peer, partition: p, err: (err as Error).message }, 'anti-entropy exchange failed')
          }
        }
      }
    }
    await Promise.all(Array.from({ length: PARTITION_CONCURRENCY }, worker))

    const durationMs = Math.round(performance.now() - started)
    const records = [...stats].map(([peer, s]): ExchangeRecord => ({
      peer,
      trigger,
      startedAt,
      durationMs,
      partitionsCompared: s.compared,
      partitionsDiffering: s.differingPartitions,
      keysDiffering: s.differingKeys,
      keysPulled: s.pulled,
      keysPushed: s.pushed,
      ...s.remote.traffic,
      ...(s.notReady > 0 ? { partitionsNotReady: s.notReady } : {}),
      ...(s.error === undefined ? {} : { error: s.error })
    }))
    this.#remember(records)
    const repaired = records.reduce((n, r) => n + r.keysPulled + r.keysPushed, 0)
    if (repaired > 0) {
      logger.info({ trigger, partitions: partitions.length, keysPulled: records.reduce((n, r) => n + r.keysPulled, 0), keysPushed: records.reduce((n, r) => n + r.keysPushed, 0), durationMs },
        'anti-entropy exchanged differing keys')
    }
    return records
  }

  /**
   * Pull whole, from one of their other replicas, the partitions among `partitions` that the restore
   * plan has pending (a node that lost its data), a few at a time; their keys and bytes count in the
   * records of the peers they came from.
   */
  async #restoreRanges (partitions: readonly number[], layout: { peers: Map<number, string[]> }, statsOf: (peer: string) => ReturnType<typeof newStats>,
    reapable: (object: Parameters<typeof tombstoneOlderThan>[0]) => boolean): Promise<void> {
    const { restore, membership, store, trees, logger } = this.#options
    if (restore === undefined || !restore.pulling) return
    const pending = partitions.filter((p) => restore.pending(p))
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < pending.length && !this.#closed) {
        const p = pending[next++]!
        const peers = layout.peers.get(p) ?? []
        // Up peers first, the start rotated by p so that one restore spreads its reads over the replicas.
        const up = peers.filter((id) => membership.isUp(id))
        const ordered = [...up.map((_, i) => up[(i + p) % up.length]!), ...peers.filter((id) => !up.includes(id))]
        if (ordered.length === 0) continue
        const result = await restoreRange(p, ordered.map((peer) => statsOf(peer).remote), { partitionCount: trees.partitionCount, plan: restore, store, reapable, logger })
        for (const [peer, keys] of result.pulled) statsOf(peer).pulled += keys
        if (result.damaged > 0) logger.error({ partition: p, keys: result.damaged }, 'a range restore skipped keys whose stored set here does not decode: delete them or restore them from a replica')
      }
    }
    await Promise.all(Array.from({ length: Math.min(pending.length, streamConcurrency(trees.partitionCount)) }, worker))
  }

  #remember (records: readonly ExchangeRecord[]): void {
    this.#rounds++
    for (const r of records) {
      this.#totals.keysPulled += r.keysPulled
      this.#totals.keysPushed += r.keysPushed
      this.#totals.bytesSent += r.bytesSent
      this.#totals.bytesReceived += r.bytesReceived
      this.#records.push(r)
    }
    if (this.#records.length > RECORDS_KEPT) this.#records.splice(0, this.#records.length - RECORDS_KEPT)
  }

  /** The partitions this node replicates and, for each, its other replicas; recomputed when the ring changes. */
  #layout (): { partitions: number[], peers: Map<number, string[]> } {
    const { membership, replicas } = this.#options
    let ring: Ring
    try {
      ring = membership.ring()
    } catch {
      return NO_PARTITIONS // a joining node has no ring yet: it replicates nothing so far
    }
    if (this.#replicated?.ring !== ring) { // a membership change brings a new Ring object
      const self = membership.selfId
      const peers = new Map<number, string[]>()
      for (let p = 0; p < ring.partitionCount; p++) {
        const list = ring.preferenceList(p, replicas)
        if (list.includes(self)) peers.set(p, list.filter((id) => id !== self))
      }
      this.#replicated = { ring, partitions: [...peers.keys()], peers }
    }
    return this.#replicated
  }
}

/** What one round counts of one peer. */
function newStats (remote: RemoteReplica): {
  remote: RemoteReplica, compared: number, differingPartitions: number, differingKeys: number, pulled: number, pushed: number, notReady: number, error: string | undefined
} {
  return { remote, compared: 0, differingPartitions: 0, differingKeys: 0, pulled: 0, pushed: 0, notReady: 0, error: undefined }
}
