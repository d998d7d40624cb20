/**
 * The storage format of a data directory, recorded in the metadata space, and the migration of a
 * directory of an earlier format, run on open before the node serves.
 *
 *   format 0 (no record)  objects, tombstone index and hints keyed by the user key, in the spaces
 *                         LEGACY_SPACES names
 *   format 1              the same values keyed by storageKey (storage-keys.ts), in SPACES: one
 *                         partition is one engine range
 *
 * Migration moves keys from the legacy spaces to the new ones in bounded batches, each one engine
 * batch that puts the new keys and deletes the old ones: a crash leaves every key in exactly one of
 * the two places, and the next start resumes with what is left in the legacy spaces (their first
 * key is the progress marker). The format record is written, fsynced, once they are all empty.
 */
import type { Logger } from 'pino'
import { GatewayError } from '../error/gateway-error.js'
import { durable, LEGACY_SPACES, type ByteSpace, type NodeStorage, type TextSpace } from './node-storage.js'
import { storageKey } from './storage-keys.js'

/** The format this release writes and reads. */
export const STORAGE_FORMAT = 1

/** The metadata key of the format record. */
export const FORMAT_KEY = 'storage-format'

/** Keys moved per engine batch: bounds a batch's memory and the work a crash can lose. */
export const MIGRATION_BATCH = 1_000

/** What a migration did. */
export interface MigrationReport {
  readonly from: number
  readonly to: number
  /** Keys moved, per space (0 for a directory already in the current format). */
  readonly moved: number
}

export interface MigrationOptions {
  /** Keys per batch (MIGRATION_BATCH). */
  readonly batchKeys?: number
  /** Stop after this many batches, as a crash between two batches would (tests of resuming). */
  readonly stopAfterBatches?: number
}

/** Hint keys: owner | 0x00 | key (hint-store.ts); only the key part is re-keyed. */
const HINT_SEPARATOR = '\u0000'

function newHintKey (old: string): string {
  const cut = old.indexOf(HINT_SEPARATOR)
  return old.slice(0, cut + 1) + storageKey(old.slice(cut + 1))
}

/**
 * Bring the directory to STORAGE_FORMAT: record it on a new directory, migrate one of format 0,
 * refuse (LEVELRING_STORAGE_FORMAT, nothing changed) one of a newer format than this release knows.
 */
export async function ensureStorageFormat (storage: NodeStorage, dataDir: string, logger: Logger, options: MigrationOptions = {}): Promise<MigrationReport> {
  const recorded = await storage.meta.get(FORMAT_KEY)
  const format = recorded === undefined ? 0 : Number(recorded)
  if (!Number.isInteger(format) || format > STORAGE_FORMAT || format < 0) {
    throw new GatewayError('LEVELRING_STORAGE_FORMAT',
      `${dataDir} holds storage format ${JSON.stringify(recorded)}, and this release reads formats 0 to ${STORAGE_FORMAT}: ` +
      'start a release that knows it (the one that wrote it or newer), or start this node on an empty data directory and let it rebuild from its peers')
  }
  if (format === STORAGE_FORMAT) return { from: format, to: format, moved: 0 }
  const spaces: Array<{ name: string, from: ByteSpace, to: ByteSpace | TextSpace, rekey: (old: string) => string }> = [
    { name: 'objects', from: storage.space(LEGACY_SPACES.objects), to: storage.objects, rekey: storageKey },
    { name: 'tombstones', from: storage.space(LEGACY_SPACES.tombstones), to: storage.tombstones, rekey: storageKey },
    { name: 'hints', from: storage.space(LEGACY_SPACES.hints), to: storage.hints, rekey: newHintKey }
  ]
  let moved = 0
  let batches = 0
  let logged = false
  const batchKeys = options.batchKeys ?? MIGRATION_BATCH
  for (const space of spaces) {
    let done = 0
    for (;;) {
      // From the start each time: moved keys are gone from the legacy space, so its first key is the resume point.
      if (batches === options.stopAfterBatches) return { from: format, to: format, moved }
      const entries = await space.from.iterator({ limit: batchKeys }).all()
      if (entries.length === 0) break
      if (!logged) {
        logger.info({ dataDir, from: format, to: STORAGE_FORMAT }, 'migrating the data directory to the partition-ordered layout before serving')
        logged = true
      }
      await storage.batch(entries.flatMap(([key, value]) => [
        { type: 'put' as const, sublevel: space.to, key: space.rekey(key), value: space.to === storage.tombstones ? Buffer.from(value).toString('utf8') : value },
        { type: 'del' as const, sublevel: space.from, key }
      ]))
      batches++
      done += entries.length
      moved += entries.length
      if (batches % 10 === 0) logger.info({ space: space.name, moved: done }, 'migrating the data directory')
    }
    if (done > 0) logger.info({ space: space.name, moved: done }, 'migrated a space to the partition-ordered layout')
  }
  await storage.meta.put(FORMAT_KEY, String(STORAGE_FORMAT), durable(true))
  if (logged) logger.info({ dataDir, moved, format: STORAGE_FORMAT }, 'migration done')
  return { from: format, to: STORAGE_FORMAT, moved }
}
