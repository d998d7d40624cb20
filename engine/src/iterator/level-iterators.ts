import { AbstractIterator, AbstractKeyIterator, AbstractValueIterator } from 'abstract-level'
import type { AbstractIteratorOptions, AbstractKeyIteratorOptions, AbstractValueIteratorOptions } from 'abstract-level'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { LsmLevel } from '../index.js'
import { aborted } from '../errors.js'
import { type Data, type Encoding, fromBytes, fromSlice, toBuffer } from '../data-encoding.js'
import type { DbIterator } from './db-iterator.js'

/** Entries produced per synchronous slice of nextv()/all() before the event loop gets a turn. */
const ITERATOR_SLICE = 1000

/**
 * Shared stepping logic of the three iterator kinds: work happens synchronously (no I/O is awaited), in
 * slices, with the abort signal checked between slices and before answering.
 */
class Stepper<T> {
  readonly #it: DbIterator
  readonly #signal: AbortSignal | null
  readonly #map: (it: DbIterator) => T

  constructor (it: DbIterator, signal: AbortSignal | null | undefined, map: (it: DbIterator) => T) {
    this.#it = it
    this.#signal = signal ?? null
    this.#map = map
  }

  async next (): Promise<T | undefined> {
    const found = this.#it.next()
    const out = found ? this.#map(this.#it) : undefined
    if (this.#signal !== null) {
      await null
      if (this.#signal.aborted) throw aborted()
    }
    return out
  }

  async nextv (size: number): Promise<T[]> {
    const out: T[] = []
    while (out.length < size) {
      const end = Math.min(size, out.length + ITERATOR_SLICE)
      while (out.length < end && this.#it.next()) out.push(this.#map(this.#it))
      if (out.length < end) break
      if (out.length < size) {
        await yieldToEventLoop()
        if (this.#signal?.aborted === true) throw aborted()
      }
    }
    if (this.#signal !== null) {
      await null
      if (this.#signal.aborted) throw aborted()
    }
    return out
  }

  seek (target: Buffer): void { this.#it.seek(target) }
  close (): void { this.#it.close() }
}

export class LsmIterator<K, V> extends AbstractIterator<LsmLevel<any, any>, K, V> {
  readonly #stepper: Stepper<[K, V]>

  constructor (db: LsmLevel<any, any>, options: AbstractIteratorOptions<K, V>, it: DbIterator) {
    super(db, options)
    const ke = options.keyEncoding as unknown as Encoding
    const ve = options.valueEncoding as unknown as Encoding
    const wantKeys = options.keys !== false
    const wantValues = options.values !== false
    this.#stepper = new Stepper(it, options.signal, (it) => [
      (wantKeys ? fromBytes(it.internalKey, it.keyLength, ke) : undefined) as K,
      (wantValues ? fromSlice(it.valueData, it.valueStart, it.valueEnd, ve) : undefined) as V
    ])
  }

  async _next (): Promise<[K, V] | undefined> { return await this.#stepper.next() }
  async _nextv (size: number): Promise<Array<[K, V]>> { return await this.#stepper.nextv(size) }
  async _all (): Promise<Array<[K, V]>> { return await this.#stepper.nextv(this.limit - this.count) }
  _seek (target: K, options: { keyEncoding: string }): void { this.#stepper.seek(toBuffer(target as Data, options.keyEncoding as Encoding)) }
  async _close (): Promise<void> { this.#stepper.close() }
}

export class LsmKeyIterator<K> extends AbstractKeyIterator<LsmLevel<any, any>, K> {
  readonly #stepper: Stepper<K>

  constructor (db: LsmLevel<any, any>, options: AbstractKeyIteratorOptions<K>, it: DbIterator) {
    super(db, options)
    const ke = options.keyEncoding as unknown as Encoding
    this.#stepper = new Stepper(it, options.signal, (it) => fromBytes(it.internalKey, it.keyLength, ke) as K)
  }

  async _next (): Promise<K | undefined> { return await this.#stepper.next() }
  async _nextv (size: number): Promise<K[]> { return await this.#stepper.nextv(size) }
  async _all (): Promise<K[]> { return await this.#stepper.nextv(this.limit - this.count) }
  _seek (target: K, options: { keyEncoding: string }): void { this.#stepper.seek(toBuffer(target as Data, options.keyEncoding as Encoding)) }
  async _close (): Promise<void> { this.#stepper.close() }
}

export class LsmValueIterator<K, V> extends AbstractValueIterator<LsmLevel<any, any>, K, V> {
  readonly #stepper: Stepper<V>

  constructor (db: LsmLevel<any, any>, options: AbstractValueIteratorOptions<K, V>, it: DbIterator) {
    super(db, options)
    const ve = options.valueEncoding as unknown as Encoding
    this.#stepper = new Stepper(it, options.signal, (it) => fromSlice(it.valueData, it.valueStart, it.valueEnd, ve) as V)
  }

  async _next (): Promise<V | undefined> { return await this.#stepper.next() }
  async _nextv (size: number): Promise<V[]> { return await this.#stepper.nextv(size) }
  async _all (): Promise<V[]> { return await this.#stepper.nextv(this.limit - this.count) }
  _seek (target: K, options: { keyEncoding: string }): void { this.#stepper.seek(toBuffer(target as Data, options.keyEncoding as Encoding)) }
  async _close (): Promise<void> { this.#stepper.close() }
}
