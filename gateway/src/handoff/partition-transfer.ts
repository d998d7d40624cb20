import type { Logger } from 'pino'
import type { ReplicaPlacement, ReplicaTarget } from '../ring/placement.js'
import { partitionOf } from '../ring/partition.js'
import type { ReplicaAccess } from '../coordination/replica-access.js'
import type { ReplicaStore } from '../replica/replica-store.js'
import type { InternodeClient } from '../internode/internode-client.js'
import type { ByteSpace } from '../replica/node-storage.js'
import { decodeObject } from '../replica/object-codec.js'
import type { StoredObject } from '../replica/stored-object.js'
import type { Membership } from '../membership/membership.js'
import { fetchPartitionPage, handOver as handOverBatch, HANDOVER_BYTES, HANDOVER_KEYS } from './partition-stream.js'
import { replicates, transfersTo, type RingState } from '../ring/ring-state.js'

/** How often the transfer checks for work (ms). */
export const TRANSFER_CHECK_MS = 1_000

/** Keys merged or pushed at once. */
const CONCURRENCY = 16

/** Per-push timeout when a node hands a key to its new replicas (ms). */
const PUSH_TIMEOUT_MS = 10_000

export interface PartitionTransferOptions {
  readonly membership: Membership
  readonly store: ReplicaStore
  readonly objects: ByteSpace
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

/** What a sweep did. */
export interface SweepResult {
  readonly dropped: number
  /** Keys not dropped because a new replica did not take them (retried later). */
  readonly kept: number
}

/**
 * Moves data when the ring changes (join or leave):
 *
 *  - Stream: while a pending ring exists in which this node gains replicas of some partitions and
 *    it has not reported done, it fetches those partitions from every current replica believed up
 *    (all of them, not one: a write acknowledged by w of n may be missing from any one), merges
 *    every key into its store, and then reports done through the ring state (gossiped). Writes made
 *    meanwhile reach it directly (SloppyPlacement's `handoff` targets).
 *  - Sweep: after the current ring changed (and once after start), every key of a partition this
 *    node replicates in neither the current nor the pending ring is pushed (fsynced) to the key's
 *    current targets and pending replicas, then dropped here if it did not change meanwhile. A key
 *    that could not be pushed stays for the next sweep.
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
  #closed = false
  #sweeping: Promise<SweepResult> | undefined

  constructor (options: PartitionTransferOptions) {
    this.#options = options
  }

  start (): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => { this.#work ??= this.tick().finally(() => { this.#work = undefined }) }, TRANSFER_CHECK_MS).unref()
  }

  async stop (): Promise<void> {
    this.#closed = true
    clearInterval(this.#timer)
    this.#timer = undefined
    await this.#work
  }

  /** Keys received by streams and dropped by sweeps since start. */
  get counts (): { streamed: number, dropped: number } {
    return { streamed: this.#streamed, dropped: this.#dropped }
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
        const { kept } = await this.sweep()
        if (kept === 0) this.#sweptRing = current
        else this.#nextSweepAt = Date.now() + 5 * settleMs
      }
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'partition transfer failed; retrying')
    }
  }

  /**
   * Fetch every partition this node gains in `state`'s pending ring from its current replicas that
   * are up. True when every partition came whole from at least one replica and no replica asked failed.
   */
  async stream (state: RingState): Promise<boolean> {
    const { membership, client, store, replicas, logger } = this.#options
    const self = membership.selfId
    const transfers = transfersTo(state, replicas, self)
    if (transfers.length === 0) return true
    const bySource = new Map<string, number[]>()
    for (const t of transfers) {
      for (const source of t.sources) {
        if (source === self || !membership.isUp(source)) continue
        bySource.set(source, [...(bySource.get(source) ?? []), t.partition])
      }
    }
    const covered = new Set<number>()
    let failed = false
    const q = state.current.ring.partitionCount
    let keys = 0
    await Promise.all([...bySource].map(async ([source, partitions]) => {
      try {
        let after: string | undefined
        do {
          if (this.#closed || membership.ringState()?.digest !== state.digest) { failed = true; return }
          const page = await fetchPartitionPage(client, source, { partitionCount: q, partitions, ...(after === undefined ? {} : { after }) })
          await inBatches(page.entries, async ({ key, object }) => { await store.merge(key, object, { sync: false }) })
          keys += page.entries.length
          after = page.next
        } while (after !== undefined)
        for (const p of partitions) covered.add(p)
      } catch (err) {
        failed = true
        logger.warn({ source, err: (err as Error).message }, 'streaming partitions from a replica failed; retrying')
      }
    }))
    this.#streamed += keys
    const complete = !failed && transfers.every((t) => covered.has(t.partition))
    logger.info({ epoch: state.epoch, partitions: transfers.length, sources: [...bySource.keys()], keys, complete },
      complete ? 'received every partition this node gains' : 'partition stream incomplete; retrying')
    return complete
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
    const { membership, objects, replicas, logger } = this.#options
    const state = membership.ringState()
    if (state === undefined) return { dropped: 0, kept: 0 }
    const self = membership.selfId
    const q = state.current.ring.partitionCount
    const mine = new Map<number, boolean>()
    const owned = (p: number): boolean => {
      let v = mine.get(p)
      if (v === undefined) { v = replicates(state, replicas, self, p); mine.set(p, v) }
      return v
    }
    let dropped = 0
    let kept = 0
    let batch: Array<{ key: string, object: StoredObject }> = []
    let bytes = 0
    const flush = async (): Promise<void> => {
      const result = await this.#handOver(batch)
      dropped += result.dropped
      kept += result.kept
      batch = []
      bytes = 0
    }
    for await (const [key, value] of objects.iterator()) {
      if (this.#closed) break
      if (owned(partitionOf(key, q))) continue
      batch.push({ key, object: decodeObject(key, value) })
      bytes += value.length
      if (batch.length >= HANDOVER_KEYS || bytes >= HANDOVER_BYTES) await flush()
    }
    if (batch.length > 0) await flush()
    this.#dropped += dropped
    if (dropped > 0 || kept > 0) logger.info({ epoch: state.epoch, dropped, kept }, 'handed over keys of partitions this node no longer replicates')
    return { dropped, kept }
  }

  /**
   * Push a batch of keys to their replicas (current targets, pending replicas), one fsynced call
   * per node, hints one by one; then drop each key whose every push succeeded, if unchanged.
   */
  async #handOver (entries: ReadonlyArray<{ key: string, object: StoredObject }>): Promise<SweepResult> {
    const { placement, access, membership, store, client, logger } = this.#options
    const self = membership.selfId
    const byNode = new Map<string, Array<{ key: string, object: StoredObject }>>()
    const hinted: Array<{ target: ReplicaTarget, key: string, object: StoredObject }> = []
    const failed = new Set<string>()
    for (const entry of entries) {
      const where = placement.place(entry.key)
      const targets: ReplicaTarget[] = [
        ...where.targets.filter((t) => t.node !== self || t.hintFor !== undefined),
        ...(where.handoff ?? []).map((node) => ({ node, primary: false }))
      ]
      if (targets.length === 0) failed.add(entry.key)
      for (const target of targets) {
        if (target.hintFor !== undefined) hinted.push({ target, ...entry })
        else byNode.set(target.node, [...(byNode.get(target.node) ?? []), entry])
      }
    }
    await Promise.all([
      ...[...byNode].map(async ([node, batch]) => {
        try {
          await handOverBatch(client, node, batch)
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
