import { kindOf, lookupKey, MAX_SEQUENCE, seqOf, userKeyOf } from 'lsm-level/tools'
import type { CommonFlags } from '../../cli-kit/common-options.js'
import { KeyRange, type KeyRangeOptions } from '../../cli-kit/key-range.js'
import { JsonArrayDocument, type Output } from '../../cli-kit/output.js'
import { Progress, progressWanted } from '../../cli-kit/progress.js'
import { entryJson, entryLine, type EntryView } from '../internal-entry.js'
import { withTable } from './table-file.js'

export interface SstScanFlags extends CommonFlags, KeyRangeOptions {
  limit?: number
  internal?: boolean
  values: boolean
}

/** `sst scan FILE`: the table's entries in order (every version and deletion: a table holds them all). */
export async function sstScan (path: string, flags: SstScanFlags, out: Output): Promise<void> {
  const range = KeyRange.fromOptions(flags, flags.encoding)
  const view: EntryView = { encoding: flags.encoding, internal: flags.internal === true, values: flags.values }
  const limit = flags.limit ?? Infinity
  await withTable(path, async (t) => {
    const total = t.table.properties.entries
    const progress = Progress.start(progressWanted(flags, true), 'scan', Math.min(total, limit))
    const doc = flags.json === true ? await JsonArrayDocument.open(out, { file: path }, 'entries') : null
    const it = t.table.newIterator({ fillCache: false })
    let shown = 0
    try {
      if (range.gte === undefined) it.seekToFirst()
      else it.seek(lookupKey(range.gte, MAX_SEQUENCE))
      for (; it.valid() && shown < limit; it.next()) {
        const ik = it.key()
        const key = userKeyOf(ik)
        if (!range.below(key)) break
        const entry = { key, seq: seqOf(ik), kind: kindOf(ik), value: it.value() }
        if (doc !== null) await doc.item(entryJson(entry, view))
        else await out.write(entryLine(entry, view) + '\n')
        shown++
        progress.advance()
        await progress.breathe()
      }
    } finally {
      it.close()
      progress.stop()
    }
    await doc?.close({ count: shown })
  })
}
