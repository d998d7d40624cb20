import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MemoryFileSystem } from '../../../engine/src/fs/memory.js'
import { TableBuilder } from '../../../engine/src/sstable/table-builder.js'
import { TableCache } from '../../../engine/src/sstable/table-cache.js'
import { BlockCache } from '../../../engine/src/sstable/block-cache.js'
import { runCompactionJob, type CompactionJob } from '../../../engine/src/compaction/job.js'
import { compareInternalKeys, compareUserKeys, KIND_DELETE, KIND_VALUE, makeInternalKey, seqOf, userKeyOf } from '../../../engine/src/keys.js'
import { tableFileName, type FileMeta } from '../../../engine/src/version/file-meta.js'

// A compaction job reads its inputs through read-ahead chunks and block cursors whose key bytes it reads in
// place (keySlice), keeping only a copy of the current user key. These properties run random jobs (level-0
// or deeper inputs, snapshots, deeper levels that hold some keys, tiny output tables, a job split into key
// ranges) and check what a reader can tell: every read at or above the oldest snapshot sees the same thing
// before and after, outputs hold input entries only, in order, never splitting a user key, and their
// metadata is what they hold.

interface Entry { key: Buffer, value: Buffer }

const DIR = '/db'
const userKey = fc.string({ unit: fc.constantFrom('a', 'b', 'c'), minLength: 1, maxLength: 5 }).map((s) => Buffer.from(s))

const jobInput = fc.record({
  // Entry i gets sequence number i + 1; `input` picks level 0's file 0-2 or the lower level (3).
  items: fc.array(fc.record({ key: userKey, del: fc.boolean(), input: fc.nat(3), len: fc.nat(30) }), { minLength: 1, maxLength: 250 }),
  level0: fc.boolean(),
  snapshotFraction: fc.double({ min: 0, max: 1, noNaN: true }),
  deeper: fc.array(fc.tuple(userKey, userKey), { maxLength: 3 }),
  maxFileSize: fc.integer({ min: 100, max: 3000 }),
  blockSize: fc.integer({ min: 32, max: 400 }),
  compression: fc.constantFrom('none' as const, 'lz4' as const),
  splits: fc.array(userKey, { maxLength: 2 })
})

const byKey = (a: Entry, b: Entry): number => compareInternalKeys(a.key, b.key)

/** Writes sorted entries as table `number`; returns its metadata. */
function writeInput (fs: MemoryFileSystem, number: number, entries: Entry[], compression: 'none' | 'lz4'): FileMeta {
  const path = `${DIR}/${tableFileName(number)}`
  const file = fs.openWritable(path)
  const b = new TableBuilder(file, { blockSize: 128, restartInterval: 4, bitsPerKey: 10, compression, fileName: path })
  for (const e of entries) b.add(e.key, e.value)
  const p = b.finish()
  file.close()
  return { number, size: p.fileSize, smallest: p.smallestKey, largest: p.largestKey, minSeq: p.minSequence, maxSeq: p.maxSequence }
}

/** Sorted entries cut into non-overlapping files of about `per` entries (never inside one user key). */
function writeLevel (fs: MemoryFileSystem, firstNumber: number, entries: Entry[], per: number, compression: 'none' | 'lz4'): FileMeta[] {
  const files: FileMeta[] = []
  let start = 0
  while (start < entries.length) {
    let end = Math.min(entries.length, start + per)
    while (end < entries.length && compareUserKeys(userKeyOf(entries[end].key), userKeyOf(entries[end - 1].key)) === 0) end++
    files.push(writeInput(fs, firstNumber + files.length, entries.slice(start, end), compression))
    start = end
  }
  return files
}

function readTable (fs: MemoryFileSystem, f: FileMeta): Entry[] {
  const tables = new TableCache(fs, DIR, { maxOpenFiles: 2, blockCache: new BlockCache({ capacityBytes: 0 }), verifyChecksums: true })
  const it = tables.iterator(f, { verifyChecksums: true, fillCache: false })
  const out: Entry[] = []
  for (it.seekToFirst(); it.valid(); it.next()) out.push({ key: Buffer.from(it.key()), value: Buffer.from(it.value()) })
  it.close()
  tables.close()
  return out
}

/** What a read of userKey at sequence seq finds in sorted entries: the value, 'deleted', or 'none'. */
function read (sorted: Entry[], key: Buffer, seq: number): string {
  for (const e of sorted) {
    if (compareUserKeys(userKeyOf(e.key), key) !== 0 || seqOf(e.key) > seq) continue
    return e.key[e.key.length - 8] === KIND_DELETE ? 'deleted' : e.value.toString()
  }
  return 'none'
}

describe('compaction job on random inputs', () => {
  it('keeps every read at or above the oldest snapshot, writes only input entries in order, and describes its outputs', async () => {
    await fc.assert(fc.asyncProperty(jobInput, async (t) => {
      const fs = new MemoryFileSystem()
      fs.mkdirp(DIR)
      const entries = t.items.map((it, i) => ({
        key: makeInternalKey(it.key, i + 1, it.del ? KIND_DELETE : KIND_VALUE),
        value: it.del ? Buffer.alloc(0) : Buffer.from(`v${i + 1}`.padEnd(it.len + 3, '.')),
        input: it.input
      }))
      const all = [...entries].sort(byKey)
      const lower = entries.filter((e) => e.input === 3).sort(byKey)
      const upper = entries.filter((e) => e.input !== 3)
      let inputs0: FileMeta[]
      if (t.level0) {
        inputs0 = [0, 1, 2].map((n) => upper.filter((e) => e.input === n).sort(byKey)).filter((es) => es.length > 0).map((es, n) => writeInput(fs, 10 + n, es, 'none'))
      } else {
        inputs0 = writeLevel(fs, 10, upper.sort(byKey), 7, t.compression)
      }
      const inputs1 = writeLevel(fs, 40, lower, 9, 'lz4')
      const maxSeq = entries.length
      const smallestSnapshot = Math.floor(t.snapshotFraction * maxSeq)
      const deeper = [t.deeper.map(([a, b]) => (compareUserKeys(a, b) <= 0 ? [a, b] : [b, a]) as [Buffer, Buffer]).sort((x, y) => compareUserKeys(x[0], y[0]))]
      // Deeper levels hold non-overlapping files: keep ranges that start after the last one kept ends.
      deeper[0] = deeper[0].reduce<Array<[Buffer, Buffer]>>((kept, r) => kept.length === 0 || compareUserKeys(r[0], kept[kept.length - 1][1]) > 0 ? [...kept, r] : kept, [])
      const bounds = [...new Map(t.splits.map((k) => [k.toString(), k])).values()].sort(compareUserKeys)
      const outputs: FileMeta[] = []
      let dropped = 0
      let nextNumber = 100
      for (let part = 0; part <= bounds.length; part++) {
        const job: CompactionJob = {
          dir: DIR,
          level: t.level0 ? 0 : 1,
          inputs0,
          inputs1,
          grandparents: [],
          deeper,
          smallestSnapshot,
          layout: { blockSize: t.blockSize, blockRestartInterval: 3, bloomBitsPerKey: 10, maxFileSize: t.maxFileSize, compression: t.compression },
          firstFileNumber: nextNumber,
          fileNumberCount: 500,
          start: part === 0 ? null : bounds[part - 1],
          end: part === bounds.length ? null : bounds[part]
        }
        nextNumber += 500
        // Slices of 5 entries with a yield between them: the cursor's bytes must survive the turns.
        const result = await runCompactionJob(fs, job, { sliceEntries: 5, yieldBetweenSlices: true, shouldAbort: () => false })
        outputs.push(...result.outputs)
        dropped += result.entriesDropped
      }

      const written: Entry[] = []
      let previous: FileMeta | null = null
      for (const f of outputs) {
        const es = readTable(fs, f)
        expect(es.length).toBeGreaterThan(0)
        // The metadata is the table's: first and last key, sequence range.
        expect(f.smallest.equals(es[0].key)).toBe(true)
        expect(f.largest.equals(es[es.length - 1].key)).toBe(true)
        expect(f.minSeq).toBe(Math.min(...es.map((e) => seqOf(e.key))))
        expect(f.maxSeq).toBe(Math.max(...es.map((e) => seqOf(e.key))))
        // Outputs follow one another, and one user key never straddles two of them.
        if (previous !== null) expect(compareUserKeys(userKeyOf(previous.largest), userKeyOf(f.smallest))).toBeLessThan(0)
        previous = f
        written.push(...es)
      }
      for (let i = 1; i < written.length; i++) expect(compareInternalKeys(written[i - 1].key, written[i].key)).toBeLessThan(0)
      // Only input entries, byte for byte; the rest were dropped and counted.
      const inputByKey = new Map(all.map((e) => [e.key.toString('hex'), e.value.toString('hex')]))
      for (const e of written) expect(inputByKey.get(e.key.toString('hex'))).toBe(e.value.toString('hex'))
      expect(written.length + dropped).toBe(all.length)

      // Every read a reader may still make finds the same thing; a dropped deletion marker reads as absent
      // only where no deeper level could hold an older value of its key.
      const keys = [...new Map(all.map((e) => [userKeyOf(e.key).toString(), userKeyOf(e.key)])).values()]
      const readSeqs = [...new Set([smallestSnapshot, ...all.map((e) => seqOf(e.key)).filter((s) => s >= smallestSnapshot), maxSeq])]
      for (const k of keys) {
        const covered = deeper[0].some(([a, b]) => compareUserKeys(a, k) <= 0 && compareUserKeys(k, b) <= 0)
        for (const s of readSeqs) {
          const before = read(all, k, s)
          const after = read(written, k, s)
          if (before === 'deleted' && !covered) expect(['deleted', 'none']).toContain(after)
          else expect(after).toBe(before)
        }
      }
    }), { numRuns: 200 })
  })
})
