import { durable, type TextSpace } from '../replica/node-storage.js'
import { configError } from './config.js'

/**
 * The last time this data directory is known to have been in use by a running node, kept in its
 * metadata and renewed while it runs. A directory whose node may have gone back in time (a restored
 * copy, or a crash: the actor epoch was renewed) and whose mark is older than the tombstone grace may
 * hold values whose deletes the other replicas have since reaped: anti-entropy would bring them back.
 * Such a node refuses to start; the operator starts it empty instead (it rebuilds from its peers). A
 * node merely down that long is safe, and takes this path only when its stop was not clean: while a
 * member is unreachable no tombstone is reaped (the reap guard asks every member).
 */
const ALIVE_KEY = 'alive-at'

/** How often a running node renews its mark: often enough that the mark trails the truth by a small part of the grace. */
export function aliveMarkIntervalMs (tombstoneGraceMs: number): number {
  return Math.max(10, Math.min(60_000, Math.floor(tombstoneGraceMs / 8)))
}

export async function markAlive (meta: TextSpace, now = Date.now()): Promise<void> {
  await meta.put(ALIVE_KEY, String(now), durable(false))
}

/**
 * Throws LEVELRING_BAD_CONFIG (naming dataDir) when the directory may have gone back in time and was
 * last in use longer ago than the grace; resolves otherwise (a fresh directory has no mark).
 */
export async function assertNotStale (meta: TextSpace, dataDir: string, epochRenewed: string | undefined, tombstoneGraceMs: number, now = Date.now()): Promise<void> {
  if (epochRenewed === undefined) return
  const stored = await meta.get(ALIVE_KEY)
  if (stored === undefined) return
  const age = now - Number(stored)
  if (!(age > tombstoneGraceMs)) return
  throw configError('dataDir', `${dataDir} was last in use ${Math.round(age / 1000)} s ago, longer than the tombstone grace ` +
    `(${Math.round(tombstoneGraceMs / 1000)} s), and its node may have gone back in time (${epochRenewed}): its values could bring back ` +
    'deletes the other replicas have reaped since. Start this node on an empty data directory instead: it rebuilds from its peers ' +
    '(docs/operations.md, "Restoring a node from a backup")')
}
