import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MemoryFileSystem } from '../../../engine/src/fs/memory.js'
import { TableBuilder } from '../../../engine/src/sstable/table-builder.js'
import { TableCache } from '../../../engine/src/sstable/table-cache.js'
import { BlockCache } from '../../../engine/src/sstable/block-cache.js'
import { MergingIterator } from '../../../engine/src/iterator/merging-iterator.js'
import type { InternalIterator } from '../../../engine/src/iterator/internal-iterator.js'
import { Memtable } from '../../../engine/src/memtable/memtable.js'
import { compareInternalKeys, KIND_DELETE, KIND_VALUE, makeInternalKey } from '../../../engine/src/keys.js'
import { tableFileName, type FileMeta } from '../../../engine/src/version/file-meta.js'

// The merging iterator compares its children through keySlice(), the key where the child holds it (a block
// cursor's scratch buffer, a read-ahead chunk). These properties check, on random data split across tables of
// tiny blocks and a memtable, that the merge is the sorted union of its children in both directions and that
// keySlice() always names the bytes key() hands out.

interface Entry { key: Buffer, value: Buffer }

/** User keys from a 3-letter alphabet, 0-6 long: many share prefixes, and some are prefixes of others. */
const userKey = fc.string({ unit: fc.constantFrom('a', 'b', 'c'), maxLength: 6 }).map((s) => Buffer.from(s))

/** Distinct entries (each has its own sequence number), dealt to `sources` children. */
const entriesAndSources = fc.record({
  items: fc.array(fc.record({ key: userKey, kind: fc.constantFrom(KIND_VALUE, KIND_DELETE), source: fc.nat(4), len: fc.nat(40) }), { maxLength: 300 }),
  blockSize: fc.integer({ min: 32, max: 512 }),
  restartInterval: fc.integer({ min: 1, max: 16 }),
  readAhead: fc.boolean()
})

function entriesOf (items: Array<{ key: Buffer, kind: number, source: number, len: number }>): Array<Entry & { source: number }> {
  return items.map((it, i) => ({
    key: makeInternalKey(it.key, i + 1, it.kind),
    value: Buffer.from(`${i}:`.padEnd(it.len + 2, String.fromCharCode(97 + (i % 26)))),
    source: it.source
  }))
}

/** Children over the entries: sources 0-3 as tables in fs (source 3 compressed), source 4 as a memtable. */
function children (fs: MemoryFileSystem, entries: Array<Entry & { source: number }>, opts: { blockSize: number, restartInterval: number, readAhead: boolean }): InternalIterator[] {
  const tables = new TableCache(fs, '/db', { maxOpenFiles: 10, blockCache: new BlockCache({ capacityBytes: 1 << 20 }), verifyChecksums: true })
  const out: InternalIterator[] = []
  for (let source = 0; source < 4; source++) {
    const mine = entries.filter((e) => e.source === source).sort((a, b) => compareInternalKeys(a.key, b.key))
    if (mine.length === 0) continue
    const number = source + 1
    const path = `/db/${tableFileName(number)}`
    const file = fs.openWritable(path)
    const builder = new TableBuilder(file, { blockSize: opts.blockSize, restartInterval: opts.restartInterval, bitsPerKey: 10, compression: source === 3 ? 'lz4' : 'none', fileName: path })
    for (const e of mine) builder.add(e.key, e.value)
    const props = builder.finish()
    file.close()
    const meta: FileMeta = { number, size: props.fileSize, smallest: props.smallestKey, largest: props.largestKey, minSeq: props.minSequence, maxSeq: props.maxSequence }
    out.push(tables.iterator(meta, { verifyChecksums: true, fillCache: !opts.readAhead, readAhead: opts.readAhead }))
  }
  const mem = entries.filter((e) => e.source === 4)
  if (mem.length > 0) {
    const m = new Memtable()
    for (const e of mem) m.add(seqOfEntry(e), e.key[e.key.length - 8], e.key.subarray(0, e.key.length - 8), e.value)
    out.push(m.iterator())
  }
  return out
}

function seqOfEntry (e: Entry): number {
  return e.key.readUInt32LE(e.key.length - 8) >>> 8
}

/** The current entry, checking that keySlice() names key()'s bytes. */
function current (it: InternalIterator): Entry {
  const s = it.keySlice()
  const sliced = Buffer.from(s.data.subarray(s.start, s.end))
  const key = Buffer.from(it.key())
  expect(sliced.equals(key)).toBe(true)
  const v = it.valueSlice()
  return { key, value: Buffer.from(v.data.subarray(v.start, v.end)) }
}

const sameEntry = (a: Entry, b: Entry): boolean => a.key.equals(b.key) && a.value.equals(b.value)

describe('merging iterator over tables of small blocks and a memtable', () => {
  it('walks forward through the sorted union of its children, keySlice() naming every key', () => {
    fc.assert(fc.property(entriesAndSources, ({ items, blockSize, restartInterval, readAhead }) => {
      const entries = entriesOf(items)
      const model = [...entries].sort((a, b) => compareInternalKeys(a.key, b.key))
      const fs = new MemoryFileSystem()
      fs.mkdirp('/db')
      const it = new MergingIterator(children(fs, entries, { blockSize, restartInterval, readAhead }))
      const seen: Entry[] = []
      for (it.seekToFirst(); it.valid(); it.next()) seen.push(current(it))
      it.close()
      expect(seen.length).toBe(model.length)
      for (let i = 0; i < model.length; i++) expect(sameEntry(seen[i], model[i])).toBe(true)
    }), { numRuns: 150 })
  })

  it('agrees with the sorted union under any mix of seeks, steps forward and steps back', () => {
    const op = fc.oneof(
      fc.constant({ op: 'next' as const }),
      fc.constant({ op: 'prev' as const }),
      fc.constant({ op: 'first' as const }),
      fc.constant({ op: 'last' as const }),
      fc.record({ op: fc.constant('seek' as const), key: userKey, seq: fc.nat(310) })
    )
    const input = fc.record({ data: entriesAndSources, ops: fc.array(op, { maxLength: 60 }) })
    fc.assert(fc.property(input, ({ data, ops }) => {
      const entries = entriesOf(data.items)
      const model = [...entries].sort((a, b) => compareInternalKeys(a.key, b.key))
      const fs = new MemoryFileSystem()
      fs.mkdirp('/db')
      // Cursors that go both ways read through the block cache (read-ahead serves forward scans).
      const it = new MergingIterator(children(fs, entries, { blockSize: data.blockSize, restartInterval: data.restartInterval, readAhead: false }))
      let at = -1 // the model's position; -1 or model.length: not valid
      for (const o of ops) {
        if (o.op === 'next' || o.op === 'prev') {
          if (at < 0 || at >= model.length) continue // stepping requires a valid cursor
          if (o.op === 'next') { it.next(); at++ } else { it.prev(); at-- }
        } else if (o.op === 'first') {
          it.seekToFirst(); at = 0
        } else if (o.op === 'last') {
          it.seekToLast(); at = model.length - 1
        } else {
          const target = makeInternalKey(o.key, o.seq, KIND_VALUE)
          it.seek(target)
          at = model.findIndex((e) => compareInternalKeys(e.key, target) >= 0)
          if (at < 0) at = model.length
        }
        const inModel = at >= 0 && at < model.length
        expect(it.valid()).toBe(inModel)
        if (inModel) expect(sameEntry(current(it), model[at])).toBe(true)
      }
      it.close()
    }), { numRuns: 150 })
  })
})
