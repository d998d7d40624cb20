import { type ByteEncoding, parseBytes } from './byte-encoding.js'

/** The `--from`, `--to` and `--prefix` options of a scan, as typed. */
export interface KeyRangeOptions { from?: string, to?: string, prefix?: string }

/**
 * A range of user keys [gte, lt), either bound open. `--from` is inclusive, `--to` exclusive, and
 * `--prefix p` is [p, the first key after every key starting with p); given together they intersect.
 */
export class KeyRange {
  readonly gte: Buffer | undefined
  readonly lt: Buffer | undefined

  constructor (gte: Buffer | undefined, lt: Buffer | undefined) {
    this.gte = gte
    this.lt = lt
  }

  /** The range the options describe, keys parsed in `encoding`. */
  static fromOptions (o: KeyRangeOptions, encoding: ByteEncoding): KeyRange {
    let gte = o.from === undefined ? undefined : parseBytes(o.from, encoding, '--from')
    let lt = o.to === undefined ? undefined : parseBytes(o.to, encoding, '--to')
    if (o.prefix !== undefined) {
      const p = parseBytes(o.prefix, encoding, '--prefix')
      if (gte === undefined || gte.compare(p) < 0) gte = p
      const end = prefixEnd(p)
      if (end !== undefined && (lt === undefined || end.compare(lt) < 0)) lt = end
    }
    return new KeyRange(gte, lt)
  }

  /** True iff userKey lies below the upper bound (a forward scan stops at the first key where this fails). */
  below (userKey: Uint8Array): boolean {
    return this.lt === undefined || Buffer.compare(userKey, this.lt) < 0
  }

  /** True iff userKey lies at or above the lower bound. */
  above (userKey: Uint8Array): boolean {
    return this.gte === undefined || Buffer.compare(userKey, this.gte) >= 0
  }

  /** The bounds as abstract-level iterator options. */
  iteratorOptions (): { gte?: Buffer, lt?: Buffer } {
    return { ...(this.gte === undefined ? {} : { gte: this.gte }), ...(this.lt === undefined ? {} : { lt: this.lt }) }
  }
}

/** The smallest key above every key that starts with p, or undefined when there is none (p is all 0xff). */
function prefixEnd (p: Buffer): Buffer | undefined {
  let n = p.length
  while (n > 0 && p[n - 1] === 0xff) n--
  if (n === 0) return undefined
  const end = Buffer.from(p.subarray(0, n))
  end[n - 1]++
  return end
}
