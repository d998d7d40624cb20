/**
 * A synchronous cursor over internal keys in compareInternalKeys order (LevelDB's Iterator).
 * Corruption met while iterating throws a LEVEL_CORRUPTION ModuleError from the method that met it.
 */
export interface InternalIterator {
  /** True iff the cursor is at an entry. */
  valid(): boolean
  /** Position at the first entry; valid() after this iff the source is not empty. */
  seekToFirst(): void
  /** Position at the last entry; valid() after this iff the source is not empty. */
  seekToLast(): void
  /** Position at the first entry with key >= target; valid() after this iff such an entry exists. */
  seek(target: Buffer): void
  /** Move to the next entry; requires valid(); valid() after this iff the cursor was not at the last entry. */
  next(): void
  /** Move to the previous entry; requires valid(); valid() after this iff the cursor was not at the first entry. */
  prev(): void
  /** The current internal key; requires valid(); the caller must not mutate it. */
  key(): Buffer
  /**
   * The current internal key as data[start, end), without a copy or a view; requires valid(). The object is
   * the iterator's own and its bytes last until the cursor moves: compare or copy them at once. For bulk
   * consumers (merges, table building) that would otherwise make one buffer per entry.
   */
  keySlice(): ByteSlice
  /** The current value; requires valid(); may be a view into a cached block: the caller copies before handing it to users. */
  value(): Buffer
  /**
   * The current value as data[start, end), without making a view; requires valid(). The object is the
   * iterator's own, overwritten by the next call: read its fields at once.
   */
  valueSlice(): ValueSlice
  /** Releases resources; the iterator must not be used afterwards. */
  close(): void
}

/** Where some bytes lie: data[start, end). */
export interface ByteSlice { data: Buffer, start: number, end: number }

/** s made to cover all of b (for iterators whose keys are whole buffers already); returns s. */
export function wholeSlice (b: Buffer, s: ByteSlice): ByteSlice {
  s.data = b
  s.start = 0
  s.end = b.length
  return s
}

/** Where a value lies. */
export type ValueSlice = ByteSlice
