/**
 * A range tombstone: what `clear(range)` writes. It deletes every entry of a user key in [start, end)
 * whose sequence is lower than its own, as seen by readers at or above its sequence. `end === null`
 * means "to the last key". One tombstone replaces any number of point deletions, so clearing a huge
 * range costs one log record and no memory proportional to the range.
 */
export interface RangeTombstone {
  readonly seq: number
  readonly start: Buffer
  readonly end: Buffer | null
}

/** Whether t hides an entry of userKey written at entrySeq, for a reader at snapshotSeq. */
export function tombstoneCovers (t: RangeTombstone, userKey: Buffer, entrySeq: number, snapshotSeq: number): boolean {
  return t.seq > entrySeq && t.seq <= snapshotSeq &&
    userKey.compare(t.start) >= 0 && (t.end === null || userKey.compare(t.end) < 0)
}

/** Whether any tombstone of the list hides the entry. The list is short: tombstones retire in the background. */
export function anyTombstoneCovers (list: readonly RangeTombstone[], userKey: Buffer, entrySeq: number, snapshotSeq: number): boolean {
  for (let i = 0; i < list.length; i++) {
    if (tombstoneCovers(list[i], userKey, entrySeq, snapshotSeq)) return true
  }
  return false
}

/** Whether the user key range [smallest, largest] (inclusive) lies wholly inside the tombstone's range. */
export function tombstoneContainsRange (t: RangeTombstone, smallest: Buffer, largest: Buffer): boolean {
  return smallest.compare(t.start) >= 0 && (t.end === null || largest.compare(t.end) < 0)
}

/** Whether the user key range [smallest, largest] (inclusive) meets the tombstone's range at all. */
export function tombstoneOverlapsRange (t: RangeTombstone, smallest: Buffer, largest: Buffer): boolean {
  return largest.compare(t.start) >= 0 && (t.end === null || smallest.compare(t.end) < 0)
}

/**
 * The value stored with a range-delete log entry: a flag byte (1 when the range has an end) followed by
 * the end key. The entry's key is the start.
 */
export function encodeTombstoneEnd (end: Buffer | null): Buffer {
  if (end === null) return Buffer.from([0])
  const out = Buffer.allocUnsafe(end.length + 1)
  out[0] = 1
  end.copy(out, 1)
  return out
}

/** Inverse of encodeTombstoneEnd; returns undefined when the bytes are malformed. */
export function decodeTombstoneEnd (value: Buffer): Buffer | null | undefined {
  if (value.length === 0) return undefined
  if (value[0] === 0) return value.length === 1 ? null : undefined
  if (value[0] === 1) return Buffer.from(value.subarray(1))
  return undefined
}
