// Every table carries the codec of the level it lives on, however it got there: a flush (placed in level 0
// or pushed below it), a compaction, a trivial move, compactRange's move of the bottom level.
import { describe, it, expect } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { LsmLevel } from 'lsm-level'
import { readLog, decodeEdit, decodeFooter, FOOTER_SIZE, RealFileSystem, Table, Version, VersionBuilder, tableFileName, BLOCK_TRAILER_SIZE } from 'lsm-level/tools'
import { COMPRESSION_LZ4, COMPRESSION_NONE } from '../../../engine/src/sstable/format.js'
import { randomInt, seededRandom } from '../../support/random.mjs'
import { tempRoot } from '../../support/temp-dir.js'

const root = tempRoot('lsm-per-level-compression')
let n = 0
const freshDir = (): string => join(root, `db${n++}`)

// Small tables and levels, so a few hundred KiB of writes reach level 3, and level 0 keeps a few tables
// between compactions; values compress well.
const SMALL = { writeBufferSize: 16 * 1024, maxFileSize: 8 * 1024, maxBytesForLevelBase: 32 * 1024, blockSize: 512, level0CompactionTrigger: 6, level0SlowdownTrigger: 8 }
const key = (i: number): string => `key${String(i).padStart(6, '0')}`
const value = (i: number, round: number): string => `value ${i} of round ${round} `.repeat(4)

/** Each live table (from the MANIFEST) with its level. */
function tablesByLevel (dir: string): Array<{ level: number, path: string }> {
  const fs = new RealFileSystem()
  const path = readFileSync(join(dir, 'CURRENT'), 'utf8').trim()
  const file = fs.openReadable(join(dir, path))
  const builder = new VersionBuilder(Version.empty())
  try {
    for (const rec of readLog(file, { mode: 'absolute-consistency' })) builder.apply(decodeEdit(rec.data, path, rec.offset))
  } finally {
    file.close()
  }
  return builder.build().levels.flatMap((files, level) => files.map((f) => ({ level, path: join(dir, tableFileName(f.number)) })))
}

/** The trailer's codec byte of every data block of a table. */
function blockCodecs (path: string): number[] {
  const bytes = readFileSync(path)
  const file = new RealFileSystem().openReadable(path)
  try {
    const table = Table.open(file, { fileNumber: 1 })
    const footer = decodeFooter(bytes.subarray(bytes.length - FOOTER_SIZE), path, bytes.length)
    // The data blocks come first: the first meta block starts where the last data block's trailer ends.
    const dataEnd = Math.min(footer.properties.offset, footer.index.offset, footer.filter.size > 0 ? footer.filter.offset : Infinity)
    const it = table.newIndexIterator()
    const ends: number[] = []
    for (it.seekToFirst(); it.valid(); it.next()) ends.push(table.dataBlockAt(it, true, false, null).fileOffset)
    ends.shift()
    ends.push(dataEnd)
    // A block's trailer (codec byte, then checksum) ends where the next block starts.
    return ends.map((end) => bytes[end - BLOCK_TRAILER_SIZE])
  } finally {
    file.close()
  }
}

const CODECS = { none: COMPRESSION_NONE, lz4: COMPRESSION_LZ4 } as const
type Codec = keyof typeof CODECS

describe('per-level compression', () => {
  it('by default level 0 is stored raw and every deeper level LZ4-compressed; true and false mean every level', async () => {
    const dir = freshDir()
    const db = new LsmLevel(dir)
    await db.open()
    expect(db.getProperty('lsm.compression')).toEqual(['none', 'lz4', 'lz4', 'lz4', 'lz4', 'lz4', 'lz4'])
    await db.close()
    for (const compression of [true, false]) {
      const other = new LsmLevel(freshDir(), { compression })
      await other.open()
      expect(other.getProperty('lsm.compression')).toEqual(Array(7).fill(compression ? 'lz4' : 'none'))
      await other.close()
    }
  })

  const SETTINGS: Array<[string, Array<Codec> | undefined]> = [
    ['the default (raw level 0, LZ4 below)', undefined],
    ['raw levels 0 and 1, LZ4 below', ['none', 'none', 'lz4']],
    ['LZ4 level 0, raw below', ['lz4', 'none']]
  ]
  for (const [name, compression] of SETTINGS) {
    it(`${name}: every table has its level's codec after pushed-down flushes, moves, compactions and compactRange`, async () => {
      const dir = freshDir()
      const options = { ...SMALL, compression }
      let db = new LsmLevel<string, string>(dir, options)
      await db.open()
      const codecs = db.getProperty('lsm.compression') as Codec[]
      const model = new Map<string, string>()
      // Levels and codecs seen across the checks: the history must reach several levels and both codecs.
      const seen = new Set<number>()
      const seenCodecs = new Set<number>()
      // Checked closed (no background job may replace a table while it is read), then opened again.
      const check = async (when: string): Promise<void> => {
        await db.close()
        for (const { level, path } of tablesByLevel(dir)) {
          seen.add(level)
          const found = blockCodecs(path)
          expect(found.length, `${when}: ${path} has data blocks`).toBeGreaterThan(0)
          for (const c of found) seenCodecs.add(c)
          expect(new Set(found), `${when}: table ${path} on level ${level}`).toEqual(new Set([CODECS[codecs[level]]]))
        }
        db = new LsmLevel<string, string>(dir, options)
        await db.open()
      }
      // Ascending batches: flushes that overlap nothing are pushed below level 0, and moved down as levels fill.
      for (let round = 0; round < 8; round++) {
        const ops = []
        for (let i = round * 400; i < (round + 1) * 400; i++) { ops.push({ type: 'put' as const, key: key(i), value: value(i, 0) }); model.set(key(i), value(i, 0)) }
        await db.batch(ops)
        await check(`after ascending fill ${round}`)
      }
      // Random overwrites: level-0 tables that overlap, merged by compactions into every level.
      const random = seededRandom(2207)
      for (let round = 1; round < 12; round++) {
        const ops = []
        for (let j = 0; j < 300; j++) {
          const i = randomInt(random, 3200)
          ops.push({ type: 'put' as const, key: key(i), value: value(i, round) })
          model.set(key(i), value(i, round))
        }
        await db.batch(ops)
        await db.flush()
        await check(`after random overwrite ${round}`)
      }
      await db.compactRange(key(0), key(3200))
      await check('after compactRange')
      const want = [...model.entries()].sort(([a], [b]) => a < b ? -1 : 1)
      expect(await db.iterator().all()).toEqual(want)
      await db.close()
      expect(seen.size).toBeGreaterThanOrEqual(3)
      expect(seenCodecs).toEqual(new Set([COMPRESSION_NONE, COMPRESSION_LZ4]))
    })
  }
})
