import type { ByteSlice, InternalIterator, ValueSlice } from './internal-iterator.js'

/** Passes through only the entries a predicate keeps (forward iteration only: used to rewrite tables). */
export class FilteringIterator implements InternalIterator {
  readonly #inner: InternalIterator
  readonly #keep: (key: Buffer) => boolean

  constructor (inner: InternalIterator, keep: (key: Buffer) => boolean) {
    this.#inner = inner
    this.#keep = keep
  }

  valid (): boolean { return this.#inner.valid() }
  seekToFirst (): void { this.#inner.seekToFirst(); this.#skip() }
  seekToLast (): void { throw new Error('FilteringIterator is forward-only') }
  seek (target: Buffer): void { this.#inner.seek(target); this.#skip() }
  next (): void { this.#inner.next(); this.#skip() }
  prev (): void { throw new Error('FilteringIterator is forward-only') }
  key (): Buffer { return this.#inner.key() }
  keySlice (): ByteSlice { return this.#inner.keySlice() }
  value (): Buffer { return this.#inner.value() }
  valueSlice (): ValueSlice { return this.#inner.valueSlice() }
  close (): void { this.#inner.close() }
  #skip (): void { while (this.#inner.valid() && !this.#keep(this.#inner.key())) this.#inner.next() }
}
