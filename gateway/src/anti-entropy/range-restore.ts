import type { Logger } from 'pino'
import type { ReplicaStore } from '../replica/replica-store.js'
import type { StoredObject } from '../replica/stored-object.js'
import { mergePulled } from './partition-exchange.js'
import type { RangeRestorePlan } from './partition-recovery.js'
import type { RemoteReplica } from './remote-replica.js'

/** Keys of one page merged at once: enough to overlap the engine's reads, few enough to leave the event loop to requests. */
const MERGE_CONCURRENCY = 16

/** What pulling one partition whole did. */
export interface RangeRestoreResult {
  /** Keys merged here, per source they came from. */
  readonly pulled: ReadonlyMap<string, number>
  /** True when the partition's last page was merged (its cursor says done). */
  readonly complete: boolean
  /** Keys skipped because this replica's stored set does not decode (logged by the store's reader). */
  readonly damaged: number
}

export interface RangeRestoreOptions {
  readonly partitionCount: number
  readonly plan: RangeRestorePlan
  readonly store: ReplicaStore
  /** True for a tombstone the reaper may remove: merged only over something held here (see PartitionExchangeOptions). */
  readonly reapable: (object: StoredObject) => boolean
  readonly logger: Logger
}

/**
 * Pull partition p whole into this (rebuilding) replica from one of `sources`, page by page through
 * the partition streaming endpoint: the source walks the partition's range once, from the cursor on.
 * Each page's sets are merged into what is stored here (DVV: a write that reached this replica
 * meanwhile is kept beside or over them; a tombstone comes as a tombstone), then the cursor is
 * stored fsynced, so a restart resumes after the last page held. Keys are in engine order, the same
 * on every replica, so a source that fails or says it is rebuilding the partition too is left for
 * the next one from the same cursor (the last source is walked to the end whatever it says: anti-
 * entropy's comparison with every other replica confirms the partition afterwards). Resolves
 * incomplete when every source failed.
 */
export async function restoreRange (p: number, sources: readonly RemoteReplica[], options: RangeRestoreOptions): Promise<RangeRestoreResult> {
  const { partitionCount, plan, store, reapable, logger } = options
  const pulled = new Map<string, number>()
  let damaged = 0
  let after = await plan.cursor(p)
  for (const [i, source] of sources.entries()) {
    const last = i === sources.length - 1
    try {
      for (;;) {
        const page = await source.rangePage(partitionCount, p, after)
        if (page.incomplete === true && !last) {
          logger.debug({ source: source.node, partition: p }, 'the replica asked for a partition is rebuilding it too; pulling it from another')
          break
        }
        let merged = 0
        for (let k = 0; k < page.entries.length; k += MERGE_CONCURRENCY) {
          await Promise.all(page.entries.slice(k, k + MERGE_CONCURRENCY).map(async ({ key, object }) => {
            const held = await mergePulled(store, key, object, reapable)
            if (held === 'damaged') damaged++
            else if (held !== undefined) merged++
          }))
        }
        pulled.set(source.node, (pulled.get(source.node) ?? 0) + merged)
        await plan.advance(p, page.next)
        if (page.next === undefined) return { pulled, complete: true, damaged }
        after = page.next
      }
    } catch (err) {
      logger.warn({ source: source.node, partition: p, after, err: (err as Error).message }, 'pulling a partition from a replica failed; trying another')
    }
  }
  return { pulled, complete: false, damaged }
}
