import type { ActorId, ClockEntry, DvvSet } from './dvv.js'

/**
 * Bounds on a key's clock, after Riak's small/big/young/old vclock settings. A clock grows by one
 * entry per actor that ever wrote the key; actors are node incarnations, so clocks only grow past a
 * handful of entries through churn (wiped or replaced nodes, fallbacks taking hinted writes).
 *
 * Pruning drops an entry, oldest first, only when ALL of these hold:
 *   - the clock has more than `small` entries (small clocks are never pruned);
 *   - the entry is older than `youngMs` (a recent writer may still be writing);
 *   - the clock has more than `big` entries, OR the entry is older than `oldMs`;
 *   - no current sibling carries a dot of that actor (its entry covers a live version).
 * The cost of pruning is never a lost write: a replica or client context that still holds the
 * dropped entry may later present an already-superseded version as a sibling again (a false
 * conflict that the next write with a context resolves). Dots stay unique regardless, since each
 * actor's counter is node-wide and never goes back. A deleted key's clock is never pruned
 * (replica-store.ts): there a dropped entry would let the deleted value win over the tombstone.
 * Replicas prune on write and on merge alike, so clocks stay bounded wherever they are stored.
 */
export interface PruningBounds {
  /** At or below this many entries a clock is left alone. */
  readonly small: number
  /** Above this many entries, the oldest (unpinned, not young) entries are dropped. */
  readonly big: number
  /** Entries written to within this window are never dropped (ms). */
  readonly youngMs: number
  /** Entries idle for longer than this are dropped once the clock is above `small` (ms). */
  readonly oldMs: number
}

/** Riak's defaults are 50/50/20 s/1 day; we keep clocks smaller since contexts travel in every request. */
export const DEFAULT_PRUNING: PruningBounds = Object.freeze({
  small: 10,
  big: 50,
  youngMs: 20_000,
  oldMs: 86_400_000
})

/** Apply the bounds to a set's clock at time `now` (ms); returns the set itself when nothing is dropped. */
export function pruneClock<V> (set: DvvSet<V>, bounds: PruningBounds, now: number): DvvSet<V> {
  if (set.clock.size <= bounds.small) return set
  const pinned = new Set<ActorId>(set.siblings.map((s) => s.dot.actor))
  const byAge = [...set.clock].sort(([, x], [, y]) => x.timestamp - y.timestamp)
  const drop = new Set<ActorId>()
  let size = set.clock.size
  for (const [actor, entry] of byAge) {
    if (size <= bounds.small) break
    const age = now - entry.timestamp
    if (age < bounds.youngMs) break // sorted by age: every later entry is younger still
    if (pinned.has(actor)) continue
    if (size > bounds.big || age > bounds.oldMs) {
      drop.add(actor)
      size--
    }
  }
  if (drop.size === 0) return set
  const clock = new Map<ActorId, ClockEntry>()
  for (const [actor, entry] of set.clock) if (!drop.has(actor)) clock.set(actor, entry)
  return { clock, siblings: set.siblings }
}
