/**
 * Dotted version vector sets (Almeida et al., "Scalable and Accurate Causality Tracking for
 * Eventually Consistent Stores"; Riak 2.0's dvvset), in their explicit-dot form.
 *
 * A key holds one `DvvSet`: a causal clock (per actor, the highest counter this key has seen from
 * it) and the current siblings, each tagged with the dot (actor, counter) of the write that made it.
 *
 *   clock    { a: 7, b: 3 }               what this key's history contains
 *   siblings [ (a,7) "x", (b,3) "y" ]     the versions not yet superseded (concurrent with each other)
 *
 * A sibling with dot (i, n) is superseded by any context whose counter for i is >= n. That test is
 * sound because an actor stamps a key's writes one at a time with increasing counters, each write's
 * history including all of that actor's earlier writes to the key: having seen (i, n) means having
 * seen every earlier dot of i on this key. Counters come from a node-wide, persisted, monotonic
 * counter (see replica/dot-counter.ts) rather than a per-key one, so they are not contiguous per key
 * (hence the explicit dots instead of dvvset's compact lists) and a key that is deleted, reaped and
 * written again can never reuse a dot a client context might still name.
 *
 * What a client has seen travels as a CausalContext: a version vector plus the few dots at or below
 * it that the client has NOT seen. Reads hand out plain vectors (the reader saw every live sibling).
 * The context answered after a write must also cover the new version without claiming the
 * concurrent siblings left beside it: the new dot (a, 9) would otherwise imply having seen an
 * unseen sibling (a, 5), and the client's next write would silently discard it. Those siblings are
 * listed as `unseen`. Only the downward-closed part of a context (below its first unseen dot per
 * actor) is ever folded into a key's clock, so a clock always stays a sound summary of history.
 *
 * All functions are pure: they return new sets and never mutate their arguments.
 */

/**
 * A writer's identity: one epoch of one node (`nodeId@epoch`). The epoch is renewed whenever the
 * node's data may have gone back in time (node/actor-epoch.ts): the soundness of a dot rests on its
 * actor's key history never losing a write it stamped.
 */
export type ActorId = string

/** The event that made one version: its actor and that actor's counter at the time. */
export interface Dot {
  readonly actor: ActorId
  readonly counter: number
}

/** Per actor, the highest counter seen. Counters are positive safe integers. */
export type VersionVector = ReadonlyMap<ActorId, number>

/** What a client has seen: every dot at or below `vv` except the `unseen` ones (each at or below `vv`). */
export interface CausalContext {
  readonly vv: VersionVector
  readonly unseen: readonly Dot[]
}

/** The context of a client that has seen nothing (a blind write). */
export const NOTHING_SEEN: CausalContext = Object.freeze({ vv: new Map(), unseen: [] })

/** One actor's entry in a key's clock; `timestamp` (ms since epoch, 0 when unknown) drives pruning. */
export interface ClockEntry {
  readonly counter: number
  readonly timestamp: number
}

/** One version of a key, tagged with the dot of the write that made it. */
export interface Sibling<V> {
  readonly dot: Dot
  readonly value: V
}

/** A key's causal clock and current siblings; siblings are sorted by dot, clock keys by actor. */
export interface DvvSet<V> {
  readonly clock: ReadonlyMap<ActorId, ClockEntry>
  readonly siblings: readonly Sibling<V>[]
}

/** The set of a key that was never written: empty clock, no siblings. */
export function emptyDvvSet<V> (): DvvSet<V> {
  return { clock: new Map(), siblings: [] }
}

/** True when the vector (or clock) has seen the dot: its counter for the dot's actor is at least the dot's. */
export function hasSeen (vv: VersionVector | ReadonlyMap<ActorId, ClockEntry>, dot: Dot): boolean {
  const seen = vv.get(dot.actor)
  if (seen === undefined) return false
  return (typeof seen === 'number' ? seen : seen.counter) >= dot.counter
}

/** The version vector of a set: what a client that read it has seen (dvvset's `join`). */
export function versionVector<V> (set: DvvSet<V>): VersionVector {
  const vv = new Map<ActorId, number>()
  for (const [actor, entry] of set.clock) vv.set(actor, entry.counter)
  return vv
}

/** True when a client with `context` has seen `dot`. */
export function contextHasSeen (context: CausalContext, dot: Dot): boolean {
  return hasSeen(context.vv, dot) && !context.unseen.some((u) => u.actor === dot.actor && u.counter === dot.counter)
}

/** The context of a reader of `set`: its whole version vector (a reader is shown every sibling). */
export function readContext<V> (set: DvvSet<V>): CausalContext {
  return { vv: versionVector(set), unseen: [] }
}

/**
 * The context of the writer whose write made `set` with `dot`: the whole vector, except the siblings
 * the writer has not seen (every sibling other than its own new version).
 */
export function writeContext<V> (set: DvvSet<V>, dot: Dot): CausalContext {
  return {
    vv: versionVector(set),
    unseen: set.siblings.filter((s) => s.dot.actor !== dot.actor || s.dot.counter !== dot.counter).map((s) => s.dot)
  }
}

/** The downward-closed part of a context: per actor, the counter below its lowest unseen dot. */
export function closedVector (context: CausalContext): VersionVector {
  if (context.unseen.length === 0) return context.vv
  const vv = new Map(context.vv)
  for (const { actor, counter } of context.unseen) {
    const limit = Math.min(vv.get(actor) ?? 0, counter - 1)
    if (limit > 0) vv.set(actor, limit); else vv.delete(actor)
  }
  return vv
}

/**
 * Remove the siblings `context` has seen, and fold the context's closed vector into the clock (a
 * write that supersedes them carries their history). Siblings the context has not seen stay: they
 * are concurrent with it.
 */
export function discard<V> (set: DvvSet<V>, context: CausalContext): DvvSet<V> {
  const clock = new Map(set.clock)
  for (const [actor, counter] of closedVector(context)) {
    const mine = clock.get(actor)
    if (mine === undefined || mine.counter < counter) {
      // The context's entry has no timestamp: keep ours if we have one, else 0 (oldest, prunable first).
      clock.set(actor, { counter, timestamp: mine?.timestamp ?? 0 })
    }
  }
  return {
    clock: sortClock(clock),
    siblings: set.siblings.filter((s) => !contextHasSeen(context, s.dot))
  }
}

/**
 * A write: discard what `context` has seen, then add `value` as a sibling under `dot`.
 * Precondition: `dot` is fresh, i.e. its counter is above every counter the set holds for its actor
 * (the actor's counter only grows). A stale dot would hide the write from later contexts, so it throws.
 */
export function update<V> (set: DvvSet<V>, context: CausalContext, dot: Dot, value: V, now: number): DvvSet<V> {
  const base = discard(set, context)
  const previous = base.clock.get(dot.actor)
  if (previous !== undefined && previous.counter >= dot.counter) {
    throw new RangeError(
      `dot ${dot.actor}:${dot.counter} is not fresh: the key has already seen ${dot.actor}:${previous.counter}; ` +
      'the actor counter went backwards (a data directory restored without a new actor epoch?)'
    )
  }
  const clock = new Map(base.clock)
  clock.set(dot.actor, { counter: dot.counter, timestamp: now })
  return {
    clock: sortClock(clock),
    siblings: sortSiblings([...base.siblings, { dot, value }])
  }
}

/**
 * Merge two replicas' sets of one key (dvvset's `sync`): the clock is the pointwise maximum; a sibling
 * survives when the other side holds it too or has not seen it. Commutative, associative, idempotent.
 */
export function sync<V> (a: DvvSet<V>, b: DvvSet<V>): DvvSet<V> {
  const clock = new Map(a.clock)
  for (const [actor, theirs] of b.clock) {
    const mine = clock.get(actor)
    if (mine === undefined || theirs.counter > mine.counter ||
        (theirs.counter === mine.counter && theirs.timestamp > mine.timestamp)) {
      clock.set(actor, theirs)
    }
  }
  const inB = new Set(b.siblings.map((s) => dotKey(s.dot)))
  const kept: Sibling<V>[] = []
  const taken = new Set<string>()
  for (const s of a.siblings) {
    const k = dotKey(s.dot)
    if (inB.has(k) || !hasSeen(b.clock, s.dot)) { kept.push(s); taken.add(k) }
  }
  for (const s of b.siblings) {
    if (!taken.has(dotKey(s.dot)) && !hasSeen(a.clock, s.dot)) kept.push(s)
  }
  return { clock: sortClock(clock), siblings: sortSiblings(kept) }
}

/** Keep only the siblings `keep` accepts; the dropped ones stay in the clock, so they count as superseded. */
export function retainSiblings<V> (set: DvvSet<V>, keep: (s: Sibling<V>) => boolean): DvvSet<V> {
  const siblings = set.siblings.filter(keep)
  return siblings.length === set.siblings.length ? set : { clock: set.clock, siblings }
}

/** True when `a` has seen everything `b` has (a >= b pointwise). */
export function descends (a: VersionVector, b: VersionVector): boolean {
  for (const [actor, counter] of b) {
    if ((a.get(actor) ?? 0) < counter) return false
  }
  return true
}

/** True when both sets hold the same clock counters and the same sibling dots. */
export function sameVersions<V> (a: DvvSet<V>, b: DvvSet<V>): boolean {
  if (a.clock.size !== b.clock.size || a.siblings.length !== b.siblings.length) return false
  for (const [actor, entry] of a.clock) {
    if (b.clock.get(actor)?.counter !== entry.counter) return false
  }
  return a.siblings.every((s, i) => dotKey(s.dot) === dotKey(b.siblings[i]!.dot))
}

/** A dot as a string, for sets and ETags: `actor:counter`. */
export function dotKey (dot: Dot): string {
  return `${dot.actor}:${dot.counter}`
}

/** Total order on actors (code-unit order), so encodings of equal sets are equal bytes. */
export function compareActors (a: ActorId, b: ActorId): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function compareDots (a: Dot, b: Dot): number {
  return compareActors(a.actor, b.actor) || a.counter - b.counter
}

function sortClock (clock: Map<ActorId, ClockEntry>): Map<ActorId, ClockEntry> {
  return new Map([...clock].sort(([x], [y]) => compareActors(x, y)))
}

function sortSiblings<V> (siblings: Sibling<V>[]): Sibling<V>[] {
  return siblings.sort((x, y) => compareDots(x.dot, y.dot))
}
