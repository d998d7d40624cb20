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

/** Where a value lies: data[start, end). */
export interface ValueSlice { data: Buffer, start: number, end: number }

/** valueSlice() for iterators whose value() costs no allocation: the whole of value(). */
export function wholeValueSlice (value: Buffer, out: ValueSlice): ValueSlice {
  out.data = value
  out.start = 0
  out.end = value.length
  return out
}

/** An iterator over nothing (an empty table or level). */
export class EmptyIterator implements InternalIterator {
  valid (): boolean { return false }
  seekToFirst (): void {}
  seekToLast (): void {}
  seek (_target: Buffer): void {}
  next (): void { throw new Error('next() on an invalid iterator') }
  prev (): void { throw new Error('prev() on an invalid iterator') }
  key (): Buffer { throw new Error('key() on an invalid iterator') }
  value (): Buffer { throw new Error('value() on an invalid iterator') }
  valueSlice (): ValueSlice { throw new Error('valueSlice() on an invalid iterator') }
  close (): void {}
}
