import { Arena } from './arena.js'

/** Where frozen memtables' arenas wait for the next memtable (one per database). */
export class ArenaPool {
  readonly #spare: Arena[] = []
  readonly #max: number
  readonly #dataBytes: number

  /** dataBytes: the data size a new arena starts with; max: arenas kept. */
  constructor (dataBytes: number, max: number) {
    this.#dataBytes = dataBytes
    this.#max = max
  }

  take (): Arena { return this.#spare.pop() ?? new Arena(this.#dataBytes) }

  /** Keep an arena for a later memtable, unless enough are kept or it grew far past the usual size (huge values). */
  give (arena: Arena): void {
    if (this.#spare.length < this.#max && arena.data.length <= 2 * this.#dataBytes) this.#spare.push(arena)
  }
}
