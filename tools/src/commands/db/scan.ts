import type { CommonFlags } from '../../cli-kit/common-options.js'
import { bytesForJson, bytesForTerminal } from '../../cli-kit/byte-encoding.js'
import { KeyRange, type KeyRangeOptions } from '../../cli-kit/key-range.js'
import { JsonArrayDocument, type Output } from '../../cli-kit/output.js'
import { Progress, progressWanted } from '../../cli-kit/progress.js'
import { withDatabase } from './database-directory.js'

export interface DbScanFlags extends CommonFlags, KeyRangeOptions {
  limit?: number
  reverse?: boolean
  values: boolean
}

/** An upper bound for the size estimate of an open-ended scan (approximateSize needs an end). */
const ABOVE_PRINTABLE_KEYS = Buffer.alloc(16, 0xff)

/** Entries fetched per nextv() call: large enough to amortize the call, small enough to stream. */
const SCAN_BATCH = 1000

/** `db scan DIR`: the live entries (newest version of each key, deletions hidden) in key order. */
export async function dbScan (dir: string, flags: DbScanFlags, out: Output): Promise<void> {
  const range = KeyRange.fromOptions(flags, flags.encoding)
  const limit = flags.limit ?? Infinity
  await withDatabase(dir, async (db) => {
    // The bar's total is an estimate: the bytes the range takes on disk, advanced by each entry's size.
    const estimate = await db.approximateSize(range.gte ?? Buffer.alloc(0), range.lt ?? ABOVE_PRINTABLE_KEYS)
    const progress = Progress.start(progressWanted(flags, true) && estimate > 0, 'scan', estimate, 'bytes')
    const doc = flags.json === true ? await JsonArrayDocument.open(out, { dir }, 'entries') : null
    const it = db.iterator({ ...range.iteratorOptions(), reverse: flags.reverse === true, limit: limit === Infinity ? -1 : limit, values: flags.values })
    let count = 0
    try {
      for (;;) {
        const batch = await it.nextv(SCAN_BATCH)
        if (batch.length === 0) break
        for (const [key, value] of batch) {
          if (doc !== null) {
            await doc.item(flags.values ? { key: bytesForJson(key, flags.encoding), value: bytesForJson(value, flags.encoding) } : { key: bytesForJson(key, flags.encoding) })
          } else {
            await out.write(flags.values ? `${bytesForTerminal(key, flags.encoding)} => ${bytesForTerminal(value, flags.encoding)}\n` : `${bytesForTerminal(key, flags.encoding)}\n`)
          }
          count++
          progress.advance(key.length + (value?.length ?? 0))
        }
        await progress.breathe()
      }
    } finally {
      await it.close()
      progress.stop()
    }
    await doc?.close({ count })
  }, { readOnly: true })
}

/** `db count DIR`: the number of live keys (in the range, if given). */
export async function dbCount (dir: string, flags: CommonFlags & KeyRangeOptions, out: Output): Promise<void> {
  const range = KeyRange.fromOptions(flags, flags.encoding)
  const count = await withDatabase(dir, async (db) => {
    const it = db.keys(range.iteratorOptions())
    let n = 0
    try {
      for (;;) {
        const batch = await it.nextv(SCAN_BATCH)
        if (batch.length === 0) return n
        n += batch.length
      }
    } finally {
      await it.close()
    }
  }, { readOnly: true })
  if (flags.json === true) await out.json({ dir, count })
  else await out.lines([String(count)])
}
