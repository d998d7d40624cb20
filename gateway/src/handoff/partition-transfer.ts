import type { Logger } from 'pino'
import type { ReplicaPlacement, ReplicaTarget } from '../ring/placement.js'
import type { ReplicaAccess } from '../coordination/replica-access.js'
import type { ReplicaStore } from '../replica/replica-store.js'
import type { InternodeClient } from '../internode/internode-client.js'
import { durable, type NodeStorage } from '../replica/node-storage.js'
import { partitionRange, type KeyRange } from '../replica/storage-keys.js'
import { decodeObject } from '../replica/object-codec.js'
import type { StoredObject } from '../replica/stored-object.js'
import { versionHash } from '../anti-entropy/version-hash.js'
import type { Membership } from '../membership/membership.js'
import { fetchPartitionPage, handOver as handOverBatch, HANDOVER_BYTES, HANDOVER_KEYS, StreamCounters, type HandoverEntry } from './partition-stream.js'
import { replicates, transfersTo, type RingState } from '../ring/ring-state.js'

/** How often the transfer checks for work (ms). */
export const TRANSFER_CHECK_MS = 1_000

/** Keys merged or pushed at once. */
const CONCURRENCY = 16

/**
 * Neighbouring given-up partitions dropped as one range at most: a write racing the walk sends that
 * many partitions, not the whole keyspace of a leaving node, back to the walk key by key.
 */
const RUN_PARTITIONS = 64

/** Partitions streamed at once, at least. */
export const STREAM_CONCURRENCY = 4

/**
 * Partitions streamed at once in a ring of q: STREAM_CONCURRENCY per 512 partitions, at most 16. A
 * partition costs a page call and an fsynced cursor however little it holds, and cursors written
 * together share one fsync, so the per-partition cost of a larger Q is paid in parallel; the cap
 * bounds the pages in flight (16 x PAGE_BYTES at most).
 */
export function streamConcurrency (q: number): number {
  return Math.min(16, Math.max(STREAM_CONCURRENCY, Math.floor(q / 128)))
}

/**
 * Metadata key prefix of the stream cursors: STREAM_CURSOR_PREFIX + partition (the walk of a losing
 * replica, and `done` once the partition is whole) or + partition@source (the walk of one keeping
 * replica) -> JSON StreamCursor.
 * Written (fsynced, after the page's merges) once per page received, so a restart, a timeout or a
 * new pending ring that still gives this node the partition resumes after the last key held;
 * removed by the sweep once the partition is no longer being gained (held for good, or dropped).
 */
export const STREAM_CURSOR_PREFIX = 'stream-cursor/'

/** How far a partition's stream got: `after` the last key merged, or `done` once whole. */
interface StreamCursor {
  readonly after?: string
  readonly done?: true
}

/** Per-push timeout when a node hands a key to its new replicas (ms). */
const PUSH_TIMEOUT_MS = 10_000

export interface PartitionTransferOptions {
  readonly membership: Membership
  readonly store: ReplicaStore
  /** Objects to walk by partition, metadata for stream cursors. */
  readonly storage: Pick<NodeStorage, 'objectEntries' | 'meta'>
  readonly client: InternodeClient
  /** Where a dropped key's versions go first: the key's current targets (sloppy) plus pending replicas. */
  readonly placement: ReplicaPlacement
  readonly access: ReplicaAccess
  readonly replicas: number
  /**
   * How long after a ring change before streaming or dropping starts: time for gossip to tell every
   * node (so writes started after it already reach the new replicas, and none goes to an old one).
   */
  readonly settleMs: number
  /** True once gossip has synced with some peer: before that this node's ring may be stale. */
  readonly synced: () => boolean
  readonly logger: Logger
}

/** GET /v1/cluster `transfers`: what this node's streams, sweeps and hand-overs moved since start. */
export interface TransferCounts {
  readonly streamed: number
  readonly dropped: number
  readonly partitionsDropped: number
  readonly pagesFetched: number
  readonly pagesServed: number
  readonly partitionsRead: number
  readonly bytesFetched: number
  readonly bytesServed: number
  readonly handoverKeysReceived: number
  readonly handoverBytesReceived: number
  readonly offeredKeysHeld: number
  readonly handoverKeysOffered: number
  readonly handoverKeysSent: number
}

/** What a sweep did. */
export interface SweepResult {
  readonly dropped: number
  /** Keys not dropped because a new replica did not take them (retried later). */
  readonly kept: number
  /** The sweep stopped before its end to let a stream of a new pending ring go first (#streamWaiting); it goes on after it. */
  readonly yielded?: true
}

/**
 * Moves data when the ring changes (join or leave):
 *
 *  - Stream: while a pending ring exists in which this node gains replicas of some partitions and
 *    it has not reported done, it pulls each of those partitions as range walks, a page at a time,
 *    merging every key into its store and persisting a cursor per walk, and then reports done through
 *    the ring state (gossiped): from the replica that gives the partition up when it is up, otherwise
 *    from every replica that keeps it (see #streamPartition). Writes made meanwhile reach it directly
 *    (SloppyPlacement's `handoff` targets, kept as hints when they fail).
 *  - Sweep: after the current ring changed (and once after start), every key of a partition this
 *    node replicates in neither the current nor the pending ring is pushed (fsynced) to the key's
 *    current targets and pending replicas (by version hash first: only the objects a replica does
 *    not hold in that very version follow, see handOver), then the partition is dropped here as one range when
 *    nothing changed it meanwhile, else key by key, each if it did not change (#sweepPartitions). A
 *    key that could not be pushed (a replica refused it, or is down with no spare node to hold its
 *    hint) stays for the next sweep. Only those partitions' ranges are walked. A sweep that finds a
 *    new pending ring giving this node partitions stops between two runs and goes on after this
 *    node's stream of them has begun: the cluster's next move waits for that stream, not for a sweep.
 */
export class PartitionTransfer {
  readonly #options: PartitionTransferOptions
  #timer: NodeJS.Timeout | undefined
  #work: Promise<void> | undefined
  /** Ring-state digest -> when this node first saw it (settle timing). */
  #seenAt = new Map<string, number>()
  /** The current ring (digest) last swept clean; undefined: sweep once after start. */
  #sweptRing: string | undefined
  #nextSweepAt = 0
  #streamed = 0
  #dropped = 0
  #partitionsDropped = 0
  /** Keys this node's sweeps offered to replicas (one per key and node), and the objects they then sent. */
  #keysOffered = 0
  #keysSent = 0
  #closed = false
  #unsubscribe: (() => void) | undefined
  /** Keys stored in given-up partitions since start: a sweep that ran while one landed does not count as clean. */
  #strays = 0
  /** Per partition of the ring state `digest`: 1 when this node replicates it in neither ring (its sweep's ranges). */
  #givenUp: { digest: string, partitions: Uint8Array } | undefined
  #sweeping: Promise<SweepResult> | undefined
  /** The ring state (digest) this node last began streaming for: a sweep gives way to a pending ring only until its stream has begun. */
  #streamBegun: string | undefined
  /** Pages fetched here and served from here (the endpoints count into it too). */
  readonly streamCounters = new StreamCounters()

  constructor (options: PartitionTransferOptions) {
    this.#options = options
  }

  start (): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => { this.#work ??= this.tick().finally(() => { this.#work = undefined }) }, TRANSFER_CHECK_MS).unref()
    this.#unsubscribe = this.#options.store.onStored((change) => { this.#onStored(change.key, change.object !== undefined) })
  }

  async stop (): Promise<void> {
    this.#closed = true
    this.#unsubscribe?.()
    clearInterval(this.#timer)
    this.#timer = undefined
    await this.#work
  }

  /** Keys received by streams and dropped by sweeps since start, partitions dropped as one range, pages streamed in and out, hand-overs offered, sent and received. */
  get counts (): TransferCounts {
    const c = this.streamCounters
    return {
      streamed: this.#streamed,
      dropped: this.#dropped,
      partitionsDropped: this.#partitionsDropped,
      pagesFetched: c.pagesFetched,
      pagesServed: c.pagesServed,
      partitionsRead: c.partitionsRead,
      bytesFetched: c.bytesFetched,
      bytesServed: c.bytesServed,
      handoverKeysReceived: c.handoverKeysReceived,
      handoverBytesReceived: c.handoverBytesReceived,
      offeredKeysHeld: c.offeredKeysHeld,
      handoverKeysOffered: this.#keysOffered,
      handoverKeysSent: this.#keysSent
    }
  }

  /**
   * A key stored in a partition this node gives up (a write or a hint sent by a peer whose ring was
   * stale, a read repair) would stay a stray copy until the next ring change: the sweep of the
   * current ring already ran. Sweep again, which hands it to its replicas and drops it here.
   */
  #onStored (key: string, stored: boolean): void {
    if (!stored) return
    const { membership, replicas } = this.#options
    const state = membership.ringState()
    if (state === undefined) return
    if (this.#givenUp?.digest !== state.digest) {
      const q = state.current.ring.partitionCount
      const partitions = new Uint8Array(q)
      for (let p = 0; p < q; p++) if (!replicates(state, replicas, membership.selfId, p)) partitions[p] = 1
      this.#givenUp = { digest: state.digest, partitions }
    }
    if (this.#givenUp.partitions[state.current.ring.partitionOf(key)] === 1) { this.#strays++; this.#sweptRing = undefined }
  }

  /** Check for work: stream if this node gains replicas, sweep if the current ring changed. */
  async tick (): Promise<void> {
    const { membership, synced, settleMs, logger } = this.#options
    const state = membership.ringState()
    if (state === undefined || !synced()) return
    const now = Date.now()
    if (!this.#seenAt.has(state.digest)) {
      if (this.#seenAt.size > 16) this.#seenAt.clear()
      this.#seenAt.set(state.digest, now)
    }
    if (now - this.#seenAt.get(state.digest)! < settleMs) return
    try {
      if (state.pending !== undefined && !state.pending.done.has(membership.selfId)) {
        if (await this.stream(state)) membership.markTransferDone(state.digest)
      }
      const current = state.current.ring.digest()
      if (this.#sweptRing !== current && now >= this.#nextSweepAt) {
        const strays = this.#strays
        const { kept, yielded } = await this.sweep()
        // A sweep that gave way to a stream goes on at the next tick, right after that stream.
        if (yielded === true) return
        if (kept === 0 && this.#strays === strays) this.#sweptRing = current
        else this.#nextSweepAt = Date.now() + 5 * settleMs
      }
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'partition transfer failed; retrying')
    }
  }

  /**
   * Pull every partition this node gains in `state`'s pending ring from one of its current replicas
   * that are up, resuming each from its persisted cursor. True when every partition is whole here.
   */
  async stream (state: RingState): Promise<boolean> {
    const { membership, replicas, logger } = this.#options
    const transfers = transfersTo(state, replicas, membership.selfId)
    if (transfers.length === 0) return true
    this.#streamBegun = state.digest
    const before = this.#streamed
    let whole = 0
    let next = 0
    await Promise.all(Array.from({ length: Math.min(streamConcurrency(state.current.ring.partitionCount), transfers.length) }, async () => {
      while (next < transfers.length) {
        const t = transfers[next++]!
        if (await this.#streamPartition(state, t.partition, t.sources, t.lost)) whole++
      }
    }))
    const complete = whole === transfers.length
    logger.info({ epoch: state.epoch, partitions: transfers.length, whole, keys: this.#streamed - before, complete },
      complete ? 'received every partition this node gains' : 'partition stream incomplete; retrying')
    return complete
  }

  /**
   * Pull partition p from its current replicas `sources`, resuming from persisted cursors. A replica
   * that loses the partition (`lost`: the leaving one, or the one a joiner takes over from) is walked
   * first and alone: the receiver then holds exactly what it held, so every write acknowledged by w
   * of n keeps w copies among the new replicas. When no losing replica is up, one fails mid-walk (a
   * removed or replaced member, a crash) or it is rebuilding the partition (wiped or behind), a write
   * acknowledged by w of n may sit on one keeping replica only, so then every keeping replica that is
   * up is walked whole, each with its own cursor: the receiver gets the union. Among equals the start
   * is chosen by p, so the partitions of one change spread over their replicas.
   */
  async #streamPartition (state: RingState, p: number, sources: readonly string[], lost: readonly string[]): Promise<boolean> {
    const { membership, storage } = this.#options
    const cursorKey = STREAM_CURSOR_PREFIX + String(p)
    const stored = await storage.meta.get(cursorKey)
    if (stored !== undefined && (JSON.parse(stored) as StreamCursor).done === true) return true
    const up = sources.filter((s) => s !== membership.selfId && membership.isUp(s))
    const rotated = up.map((_, i) => up[(i + p) % up.length]!)
    const finish = async (): Promise<true> => {
      await storage.meta.put(cursorKey, JSON.stringify({ done: true }), durable(true))
      return true
    }
    for (const source of rotated.filter((s) => lost.includes(s))) {
      // The walk stored `done` under the partition's own cursor key already.
      if (await this.#walk(state, p, source, cursorKey, true)) return true
    }
    const keeping = rotated.filter((s) => !lost.includes(s))
    if (keeping.length === 0) return false
    for (const source of keeping) {
      if (!await this.#walk(state, p, source, `${cursorKey}@${source}`, false)) return false
    }
    return await finish()
  }

  /**
   * Walk partition p on `source` from the cursor stored under `cursorKey` to its end; false when it
   * failed or the ring moved. `alone`: the walk must give everything the source should hold, so a
   * source that says it is rebuilding the partition fails it, and its cursor starts over (what it
   * sent so far may lack writes too).
   */
  async #walk (state: RingState, p: number, source: string, cursorKey: string, alone: boolean): Promise<boolean> {
    const { membership, client, store, storage, logger } = this.#options
    const stored = await storage.meta.get(cursorKey)
    let cursor: StreamCursor = stored === undefined ? {} : JSON.parse(stored) as StreamCursor
    if (cursor.done === true) return true
    const q = state.current.ring.partitionCount
    try {
      for (;;) {
        if (this.#closed || membership.ringState()?.digest !== state.digest) return false
        const page = await fetchPartitionPage(client, source, { partitionCount: q, partitions: [p], ...(cursor.after === undefined ? {} : { after: cursor.after }) })
        this.streamCounters.pagesFetched++
        this.streamCounters.bytesFetched += page.bytes ?? 0
        if (alone && page.incomplete === true) {
          logger.warn({ source, partition: p }, 'the replica that gives a partition up is rebuilding it; streaming it from every replica that keeps it')
          await storage.meta.del(cursorKey)
          return false
        }
        await inBatches(page.entries, async ({ key, object }) => { await store.merge(key, object, { sync: false }) })
        this.#streamed += page.entries.length
        cursor = page.next === undefined ? { done: true } : { after: page.next }
        // Fsynced: it makes the page's merges durable too (one commit log), so the cursor never runs ahead of them.
        await storage.meta.put(cursorKey, JSON.stringify(cursor), durable(true))
        if (page.next === undefined) return true
      }
    } catch (err) {
      logger.warn({ source, partition: p, after: cursor.after, err: (err as Error).message }, 'streaming a partition from a replica failed; trying another')
      return false
    }
  }

  /** Forget the stream cursors of partitions this node is not gaining now (held for good, or dropped). */
  async #forgetCursors (state: RingState): Promise<void> {
    const { storage, replicas, membership } = this.#options
    const gaining = new Set(transfersTo(state, replicas, membership.selfId).map((t) => t.partition))
    for await (const key of storage.meta.keys({ gte: STREAM_CURSOR_PREFIX, lt: STREAM_CURSOR_PREFIX + '\uffff' })) {
      // A key is the partition, or partition@source for a walk of one keeping replica.
      if (!gaining.has(Number.parseInt(key.slice(STREAM_CURSOR_PREFIX.length), 10))) await storage.meta.del(key)
    }
  }

  /**
   * Push and drop every key of a partition this node no longer replicates (see the class comment).
   * One sweep at a time: a call while one runs waits for it and runs again.
   */
  async sweep (): Promise<SweepResult> {
    const previous = this.#sweeping
    const run = (async () => {
      await previous?.catch(() => {})
      return await this.#sweep()
    })()
    this.#sweeping = run
    try {
      return await run
    } finally {
      if (this.#sweeping === run) this.#sweeping = undefined
    }
  }

  async #sweep (): Promise<SweepResult> {
    const { membership, replicas, logger } = this.#options
    const state = membership.ringState()
    if (state === undefined) return { dropped: 0, kept: 0 }
    const self = membership.selfId
    const q = state.current.ring.partitionCount
    await this.#forgetCursors(state)
    let dropped = 0
    let kept = 0
    let ranges = 0
    let yielded = false
    // Neighbouring partitions given up go together: one walk, one fence and one range drop (a range
    // tombstone per space, which reads check until compaction retires it) per run of them.
    for (let p = 0; p < q && !this.#closed; p++) {
      if (replicates(state, replicas, self, p)) continue
      if (this.#streamWaiting()) {
        yielded = true
        break
      }
      let end = p + 1
      while (end < q && end - p < RUN_PARTITIONS && !replicates(state, replicas, self, end)) end++
      const result = await this.#sweepPartitions(p, end, q)
      dropped += result.dropped
      kept += result.kept
      if (result.asRange) ranges += end - p
      p = end - 1 // the loop's p++ moves on to partition `end`
    }
    this.#dropped += dropped
    if (yielded) {
      logger.info({ epoch: state.epoch, pendingEpoch: membership.ringState()?.epoch, dropped, kept, partitionsDropped: ranges },
        'sweep paused: a pending ring gives this node partitions, which it streams first')
      return { dropped, kept, yielded }
    }
    if (dropped > 0 || kept > 0) logger.info({ epoch: state.epoch, dropped, kept, partitionsDropped: ranges }, 'handed over keys of partitions this node no longer replicates')
    return { dropped, kept }
  }

  /**
   * True when the newest ring state has a pending ring that gives this node partitions it has not
   * begun to stream: a sweep walks, pushes and drops run after run (minutes at a large Q on a busy
   * node), and the whole cluster's move waits for this node's stream, so the sweep stops between two
   * runs and goes on after it. Once the stream has begun (done or not), sweeps run to their end.
   */
  #streamWaiting (): boolean {
    const { membership, replicas } = this.#options
    const state = membership.ringState()
    if (state?.pending === undefined || state.pending.done.has(membership.selfId) || state.digest === this.#streamBegun) return false
    return transfersTo(state, replicas, membership.selfId).length > 0
  }

  /**
   * Hand the keys of partitions first..end-1 over to their replicas and drop them here. First as a
   * range: under a fence (ReplicaStore.fence) every key is pushed, and when every push succeeded and
   * nothing touched the range meanwhile it is dropped whole, objects, tombstone index and key hash
   * index in one range operation (ReplicaStore.dropFenced). Otherwise (a push failed, or a write, a
   * stream or an exchange raced the walk) key by key: each key pushed again and dropped if
   * unchanged, one that could not be pushed kept for the next sweep.
   */
  async #sweepPartitions (first: number, end: number, q: number): Promise<SweepResult & { asRange: boolean }> {
    const { store, membership, replicas } = this.#options
    const last = partitionRange(end - 1, q)
    const range: KeyRange = last.lt === undefined ? { gte: partitionRange(first, q).gte } : { gte: partitionRange(first, q).gte, lt: last.lt }
    // Most runs a node gives up hold nothing after the first sweep: no fence (a metadata write) for those.
    if (await this.#isEmpty(range)) return { dropped: 0, kept: 0, asRange: false }
    const fence = await store.fence(range)
    try {
      let handed = 0
      let failed = 0
      const whole = await this.#walkRange(range, async (batch) => {
        failed += (await this.#push(batch)).size
        handed += batch.length
      })
      if (handed === 0 || !whole) return { dropped: 0, kept: handed, asRange: false }
      const stillGivenUp = (): boolean => {
        const now = membership.ringState()
        if (now === undefined || now.current.ring.partitionCount !== q) return false
        for (let p = first; p < end; p++) if (replicates(now, replicas, membership.selfId, p)) return false
        return true
      }
      if (failed === 0 && await store.dropFenced(fence, stillGivenUp)) {
        this.#partitionsDropped += end - first
        return { dropped: handed, kept: 0, asRange: true }
      }
    } finally {
      store.unfence(fence)
    }
    let dropped = 0
    let kept = 0
    await this.#walkRange(range, async (batch) => {
      const result = await this.#handOver(batch)
      dropped += result.dropped
      kept += result.kept
    })
    return { dropped, kept, asRange: false }
  }

  async #isEmpty (range: KeyRange): Promise<boolean> {
    for await (const _ of this.#options.storage.objectEntries({ range })) return false
    return true
  }

  /**
   * Walk the objects of `range` in hand-over batches (HANDOVER_KEYS keys, HANDOVER_BYTES bytes);
   * false when the transfer closed before the end.
   */
  async #walkRange (range: KeyRange, each: (batch: HandoverEntry[]) => Promise<void>): Promise<boolean> {
    let batch: HandoverEntry[] = []
    let bytes = 0
    const flush = async (): Promise<void> => {
      const full = batch
      batch = []
      bytes = 0
      await each(full)
    }
    for await (const [key, value] of this.#options.storage.objectEntries({ range })) {
      if (this.#closed) return false
      // An object that would overflow the batch goes in the next one: one the receiver refuses as too
      // large then travels alone, and fails alone.
      if (batch.length > 0 && bytes + value.length > HANDOVER_BYTES) await flush()
      // Hashed once, from the stored bytes, for the offers to every replica.
      batch.push({ key, object: decodeObject(key, value), hash: versionHash(value) })
      bytes += value.length
      if (batch.length >= HANDOVER_KEYS || bytes >= HANDOVER_BYTES) await flush()
    }
    if (batch.length > 0) await flush()
    return !this.#closed
  }

  /**
   * Push a batch of keys to their replicas (current targets, pending replicas): per node an offer of
   * their version hashes, then one fsynced call with the objects it does not hold in that version;
   * hints one by one. Resolves with the keys some push of which failed.
   */
  async #push (entries: readonly HandoverEntry[]): Promise<Set<string>> {
    const { placement, access, membership, client, logger, replicas } = this.#options
    const self = membership.selfId
    const ring = membership.ring()
    const byNode = new Map<string, HandoverEntry[]>()
    const hinted: Array<{ target: ReplicaTarget, key: string, object: StoredObject }> = []
    const failed = new Set<string>()
    for (const entry of entries) {
      const where = placement.place(entry.key)
      const targets: ReplicaTarget[] = [
        ...where.targets.filter((t) => t.node !== self || t.hintFor !== undefined),
        ...(where.handoff ?? []).map((node) => ({ node, primary: false }))
      ]
      // A primary that is down with no spare node to hold its hint is no target: the key stays here
      // until it can reach every replica (or a hint holder for it).
      if (targets.length === 0 || where.targets.length < ring.preferenceList(where.partition, replicas).length) failed.add(entry.key)
      for (const target of targets) {
        if (target.hintFor !== undefined) hinted.push({ target, ...entry })
        else byNode.set(target.node, [...(byNode.get(target.node) ?? []), entry])
      }
    }
    await Promise.all([
      ...[...byNode].map(async ([node, batch]) => {
        try {
          this.#keysOffered += batch.length
          this.#keysSent += await handOverBatch(client, node, batch)
        } catch (err) {
          logger.debug({ node, keys: batch.length, err: (err as Error).message }, 'could not hand keys over; they stay for the next sweep')
          for (const { key } of batch) failed.add(key)
        }
      }),
      inBatches(hinted, async ({ target, key, object }) => {
        try {
          await access.apply(target, key, object, true, PUSH_TIMEOUT_MS)
        } catch {
          failed.add(key)
        }
      })
    ])
    return failed
  }

  /** Push a batch of keys (#push), then drop each key whose every push succeeded, if unchanged. */
  async #handOver (entries: readonly HandoverEntry[]): Promise<SweepResult> {
    const { store } = this.#options
    const failed = await this.#push(entries)
    let dropped = 0
    let kept = 0
    await inBatches(entries, async ({ key, object }) => {
      // Gone already (another sweep took it) counts as handed over.
      if (!failed.has(key) && (await store.removeIfUnchanged(key, object) || await store.read(key) === undefined)) dropped++
      else kept++
    })
    return { dropped, kept }
  }
}

/** Run `fn` over `items`, CONCURRENCY at a time. */
async function inBatches<T> (items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += CONCURRENCY) {
    await Promise.all(items.slice(i, i + CONCURRENCY).map(fn))
  }
}
