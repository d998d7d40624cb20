// Damage at chosen offsets of the newest commit log, an SSTable (data block, index, filter, properties,
// footer), the MANIFEST and CURRENT: the outcome is what the recovery mode promises, a read never returns a
// wrong value, and LsmLevel.repair salvages what is readable and says what it dropped.
import { afterAll, beforeAll, describe, it, expect } from 'vitest'
import * as nodeFs from 'node:fs'
import { join } from 'node:path'
import { LsmLevel } from 'lsm-level'
import {
  auditReads, expectOpenFails, fileSize, flipByte, footerOf, liveTables, logs, manifest, newestLogWithData, records
} from './fixtures/damage.js'
import { HEADER_SIZE } from '../../../engine/src/wal/log-format.js'
import { LogWriter } from '../../../engine/src/wal/log-writer.js'
import { decodeBatch, encodeBatch } from '../../../engine/src/wal/batch.js'
import { KIND_VALUE } from '../../../engine/src/keys.js'
import { RealFileSystem } from '../../../engine/src/fs/real.js'
import { BLOCK_TRAILER_SIZE } from '../../../engine/src/sstable/format.js'
import { Table } from '../../../engine/src/sstable/table.js'
import { tempRoot } from '../../support/temp-dir.js'

const root = tempRoot('lsm-corruption')
let n = 0
const freshDir = (): string => join(root, `db${n++}`)

const value = (i: number, size = 40): string => `value-${i}-` + 'v'.repeat(size + (i % 50))

/** A database whose data is all in its commit log: `count` puts, one record each, never flushed. */
async function logOnlyDb (count = 20, size = 40): Promise<{ dir: string, expected: Map<string, string> }> {
  const dir = freshDir()
  const db = new LsmLevel<string, string>(dir)
  const expected = new Map<string, string>()
  for (let i = 0; i < count; i++) {
    await db.put(`key${String(i).padStart(3, '0')}`, value(i, size))
    expected.set(`key${String(i).padStart(3, '0')}`, value(i, size))
  }
  await db.close()
  return { dir, expected }
}

/** Options that make small data span many blocks and tables, and keep one level-0 table out of compaction. */
const SMALL = { blockSize: 256, maxFileSize: 8 * 1024, level0CompactionTrigger: 8, level0SlowdownTrigger: 8, level0StopTrigger: 12 }

/**
 * How the tables of the current describe block are written (blocks raw, or LZ4-compressed): merged over SMALL.
 * Compressed tables are smaller, so their maxFileSize is too, to keep several tables.
 */
let tableOptions: object = { compression: false }

/** A database whose data is all in tables (compacted below level 0), nothing in its commit logs. */
async function tablesOnlyDb (count = 400): Promise<{ dir: string, expected: Map<string, string> }> {
  const dir = freshDir()
  const db = new LsmLevel<string, string>(dir, { ...SMALL, ...tableOptions })
  const expected = new Map<string, string>()
  // Four interleaved flushes overlap one another, so the compaction merges them into several tables.
  for (let r = 0; r < 4; r++) {
    const ops = []
    for (let i = r; i < count; i += 4) {
      const key = `key${String(i).padStart(3, '0')}`
      expected.set(key, value(i))
      ops.push({ type: 'put' as const, key, value: value(i) })
    }
    await db.batch(ops)
    await db.flush()
  }
  await db.compactRange('', '\xff')
  await db.close()
  return { dir, expected }
}

async function opened (dir: string, options: object = {}): Promise<LsmLevel<string, string>> {
  const db = new LsmLevel<string, string>(dir, { ...SMALL, ...tableOptions, ...options })
  await db.open()
  return db
}

describe('the newest commit log', () => {
  it('a damaged last record is a torn tail: tolerated by default (that record only is lost), refused by absolute-consistency', async () => {
    const { dir, expected } = await logOnlyDb()
    const log = newestLogWithData(dir)
    const recs = records(log)
    expect(recs).toHaveLength(20)
    const last = recs[recs.length - 1]
    flipByte(log, last.offset + HEADER_SIZE + 5)

    await expectOpenFails(new LsmLevel(dir, { walRecoveryMode: 'absolute-consistency' }), 'LEVEL_CORRUPTION', log, last.offset)
    const db = await opened(dir)
    const audit = await auditReads(db, expected)
    expect(audit.missing).toEqual(['key019'])
    expect(audit.right).toBe(19)
    expect(audit.corrupt).toBe(0)
    await db.close()
  })

  it('damage in the middle of the log is LEVEL_CORRUPTION naming the log and the offset, in both modes', async () => {
    const { dir } = await logOnlyDb()
    const log = newestLogWithData(dir)
    const recs = records(log)
    flipByte(log, recs[7].offset + HEADER_SIZE + 20)
    for (const walRecoveryMode of ['tolerate-corrupted-tail', 'absolute-consistency'] as const) {
      await expectOpenFails(new LsmLevel(dir, { walRecoveryMode }), 'LEVEL_CORRUPTION', log, recs[7].offset)
    }
  })

  it('a log cut short inside its last record keeps every earlier record (absolute-consistency refuses it)', async () => {
    const { dir, expected } = await logOnlyDb()
    const log = newestLogWithData(dir)
    const recs = records(log)
    const last = recs[recs.length - 1]
    nodeFs.truncateSync(log, last.offset + 3)
    await expectOpenFails(new LsmLevel(dir, { walRecoveryMode: 'absolute-consistency' }), 'LEVEL_CORRUPTION', log, last.offset)
    const db = await opened(dir)
    const audit = await auditReads(db, expected)
    expect(audit.missing).toEqual(['key019'])
    expect(audit.right).toBe(19)
    await db.close()
  })

  /** The 20-record log, then a newer log holding one more put (with the next sequence number), as after a switch. */
  async function twoLogs (): Promise<{ dir: string, older: string, last: { offset: number, length: number }, expected: Map<string, string> }> {
    const { dir, expected } = await logOnlyDb()
    const older = newestLogWithData(dir)
    const recs = records(older)
    const last = recs[recs.length - 1]
    const lastBatch = decodeBatch(nodeFs.readFileSync(older).subarray(last.offset + HEADER_SIZE, last.offset + HEADER_SIZE + last.length), older, last.offset)
    const newer = join(dir, `${String(Number(older.slice(-10, -4)) + 1).padStart(6, '0')}.log`)
    const out = new RealFileSystem().openWritable(newer)
    new LogWriter(out).addRecord(encodeBatch(lastBatch.seq + lastBatch.ops.length, [{ kind: KIND_VALUE, key: Buffer.from('synced'), value: Buffer.from('write') }]))
    out.syncSync()
    out.close()
    expected.set('synced', 'write')
    return { dir, older, last, expected }
  }

  it('both logs replay in order when intact', async () => {
    const { dir, expected } = await twoLogs()
    const db = await opened(dir)
    expect((await auditReads(db, expected)).right).toBe(expected.size)
    await db.close()
  })

  it('a damaged last record of an older log is LEVEL_CORRUPTION: the writes of the newer log (maybe synced) are not dropped with it', async () => {
    const { dir, older, last } = await twoLogs()
    flipByte(older, last.offset + HEADER_SIZE + 5)
    await expectOpenFails(new LsmLevel(dir), 'LEVEL_CORRUPTION', older, last.offset)
  })

  it('an older log cut short (a power loss during its fsync, when no synced write in the newer log could have been acknowledged) ends the history there: a prefix', async () => {
    const { dir, older, last, expected } = await twoLogs()
    nodeFs.truncateSync(older, last.offset + 3)
    await expectOpenFails(new LsmLevel(dir, { walRecoveryMode: 'absolute-consistency' }), 'LEVEL_CORRUPTION', older, last.offset)
    const db = await opened(dir)
    const audit = await auditReads(db, expected)
    expect(audit.missing).toEqual(['key019', 'synced'])
    expect(audit.right).toBe(19)
    await db.close()
  })

  it('repair salvages the records around damage in the middle (losing the rest of its 32 KiB block) and reports the drop', async () => {
    // Records of ~3 KiB: the log spans several blocks.
    const { dir, expected } = await logOnlyDb(40, 3000)
    const log = newestLogWithData(dir)
    const recs = records(log)
    const damaged = recs[5]
    flipByte(log, damaged.offset + HEADER_SIZE + 20)
    // Nothing after a checksum mismatch in a block is trusted (a value may hold log-like bytes): the records
    // starting in the rest of that block are dropped with it; every record starting in a later block is kept.
    const blockEnd = (Math.floor(damaged.offset / 32768) + 1) * 32768
    const lost = recs.map((r, i) => ({ r, i })).filter(({ r }) => r.offset >= damaged.offset && r.offset < blockEnd).map(({ i }) => `key${String(i).padStart(3, '0')}`)
    expect(lost.length).toBeLessThan(recs.length / 2)
    const report = await LsmLevel.repair(dir)
    expect(report.logRecordsRecovered).toBe(recs.length - lost.length)
    expect(report.logRecordsDropped).toBeGreaterThanOrEqual(1)
    expect(report.logBytesDropped).toBeGreaterThanOrEqual(blockEnd - damaged.offset)
    expect(report.notes.join('\n')).toContain(`${log} offset ${damaged.offset}`)
    const db = await opened(dir)
    const audit = await auditReads(db, expected)
    expect(audit.missing).toEqual(lost)
    expect(audit.right).toBe(recs.length - lost.length)
    await db.close()
  })
})

const TABLE_VARIANTS = [
  ['raw blocks', { compression: false }],
  ['LZ4-compressed blocks', { compression: 'lz4', maxFileSize: 3 * 1024 }]
] as const

for (const [variant, options] of TABLE_VARIANTS) describe(`an SSTable with ${variant}`, () => {
  beforeAll(() => { tableOptions = options })
  afterAll(() => { tableOptions = { compression: false } })

  it('the tables are written as this block says: compressed blocks take fewer bytes on disk than in memory', async () => {
    const { dir } = await tablesOnlyDb()
    const file = new RealFileSystem().openReadable(liveTables(dir)[0])
    const table = Table.open(file, { fileNumber: 1 })
    const it = table.newIndexIterator()
    it.seekToFirst()
    const first = table.dataBlockAt(it, true, false, null)
    it.next()
    const second = table.dataBlockAt(it, true, false, null)
    const onDisk = second.fileOffset - first.fileOffset - BLOCK_TRAILER_SIZE
    if (options.compression === 'lz4') expect(onDisk).toBeLessThan(first.size * 7 / 8)
    else expect(onDisk).toBe(first.size)
    file.close()
  })

  /** Damages one table at the offset chosen from its footer; returns the table and what a reopened db reads. */
  async function damageTable (pick: (path: string) => number): Promise<{ dir: string, table: string, expected: Map<string, string> }> {
    const { dir, expected } = await tablesOnlyDb()
    const all = liveTables(dir)
    expect(all.length).toBeGreaterThan(2)
    const table = all[1]
    flipByte(table, pick(table))
    return { dir, table, expected }
  }

  it('a flipped byte in a data block: reads of that block fail with LEVEL_CORRUPTION naming the table, others are right', async () => {
    const { dir, table, expected } = await damageTable(() => 10)
    const db = await opened(dir)
    const audit = await auditReads(db, expected)
    expect(audit.corrupt).toBeGreaterThan(0)
    expect([...audit.corruptFiles]).toEqual([table])
    expect(audit.missing).toEqual([])
    // Only that block's keys fail (a block of 256 bytes holds a handful of entries).
    expect(audit.right).toBeGreaterThan(expected.size - 20)
    await db.close()
  })

  for (const part of ['index', 'filter', 'properties'] as const) {
    it(`a flipped byte in the ${part} block: every read of that table fails with LEVEL_CORRUPTION, no wrong value`, async () => {
      const { dir, table, expected } = await damageTable((p) => {
        const h = footerOf(p)[part]
        return h.offset + Math.floor(h.size / 2)
      })
      const db = await opened(dir)
      const audit = await auditReads(db, expected)
      expect(audit.corrupt).toBeGreaterThan(0)
      expect([...audit.corruptFiles]).toEqual([table])
      expect(audit.missing).toEqual([])
      await db.close()
    })
  }

  for (const [what, at] of [['a block trailer checksum', -1], ['the footer handles', 0], ['the footer checksum', 52], ['the magic number', 60]] as const) {
    it(`a flipped byte in ${what}: LEVEL_CORRUPTION naming the table`, async () => {
      const { dir, table, expected } = await damageTable((p) => at >= 0
        ? fileSize(p) - 64 + at
        : footerOf(p).index.offset + footerOf(p).index.size + BLOCK_TRAILER_SIZE - 1)
      const db = await opened(dir)
      const audit = await auditReads(db, expected)
      expect(audit.corrupt).toBeGreaterThan(0)
      expect([...audit.corruptFiles]).toEqual([table])
      await db.close()
    })
  }

  it('a table cut short: LEVEL_CORRUPTION naming it', async () => {
    const { dir, expected } = await tablesOnlyDb()
    const table = liveTables(dir)[0]
    nodeFs.truncateSync(table, fileSize(table) - 10)
    const db = await opened(dir)
    const audit = await auditReads(db, expected)
    expect([...audit.corruptFiles]).toEqual([table])
    await db.close()
  })

  it('compaction verifies its inputs even with verifyChecksums off: the damage becomes a LEVEL_CORRUPTION error, not copied data', async () => {
    const { dir, table } = await damageTable(() => 10)
    const db = await opened(dir, { verifyChecksums: false })
    // New versions of every key, above the tables: compacting them down reads every table, the damaged one too.
    await db.batch(Array.from({ length: 400 }, (_, i) => ({ type: 'put' as const, key: `key${String(i).padStart(3, '0')}`, value: 'new' })))
    const err = await db.compactRange('', '\xff').then(() => null, (e: Error) => e)
    expect((err as { code?: string } | null)?.code).toBe('LEVEL_CORRUPTION')
    expect((err as { file?: string }).file).toBe(table)
    // The damaged table was not replaced by a copy of its damage.
    expect(nodeFs.existsSync(table)).toBe(true)
    await db.close()
  })

  it('repair rewrites a table without its damaged block and moves a table with a damaged index to lost/', async () => {
    const { dir, expected } = await tablesOnlyDb()
    const [a, b] = liveTables(dir)
    flipByte(a, 10)
    flipByte(b, footerOf(b).index.offset + 3)
    const report = await LsmLevel.repair(dir)
    expect(report.tablesRewritten).toBe(1)
    expect(report.blocksDropped).toBe(1)
    expect(report.tablesLost).toBe(1)
    expect(nodeFs.existsSync(join(dir, 'lost', b.slice(b.lastIndexOf('/') + 1)))).toBe(true)
    expect(report.notes.some((line) => line.includes(a))).toBe(true)
    const db = await opened(dir)
    const audit = await auditReads(db, expected)
    expect(audit.corrupt).toBe(0)
    expect(audit.right + audit.missing.length).toBe(expected.size)
    expect(audit.missing.length).toBeGreaterThan(0)
    await db.close()
  })
})

/** A database whose MANIFEST ends with the edit that recovery wrote at the last open (its log replayed into a table). */
async function manifestDb (): Promise<{ dir: string, expected: Map<string, string> }> {
  const { dir, expected } = await tablesOnlyDb(200)
  let db = await opened(dir)
  for (let i = 200; i < 230; i++) {
    await db.put(`key${String(i).padStart(3, '0')}`, value(i))
    expected.set(`key${String(i).padStart(3, '0')}`, value(i))
  }
  await db.close()
  // This open replays the log into a level-0 table, records it in the new MANIFEST's last edit, deletes the log.
  db = await opened(dir)
  await db.close()
  expect(logs(dir).every((p) => fileSize(p) === 0)).toBe(true)
  return { dir, expected }
}

describe('the MANIFEST', () => {
  it('a flipped byte in its first record is LEVEL_CORRUPTION naming the MANIFEST and offset', async () => {
    const { dir } = await manifestDb()
    const m = manifest(dir)
    flipByte(m, HEADER_SIZE + 3)
    await expectOpenFails(new LsmLevel(dir), 'LEVEL_CORRUPTION', m, 0)
  })

  it('a flipped byte in its last record is LEVEL_CORRUPTION too: that edit was acted on (its log is gone), so it cannot be skipped as torn', async () => {
    const { dir, expected } = await manifestDb()
    const m = manifest(dir)
    const recs = records(m)
    expect(recs.length).toBeGreaterThanOrEqual(2)
    const last = recs[recs.length - 1]
    flipByte(m, last.offset + HEADER_SIZE + 2)
    await expectOpenFails(new LsmLevel(dir), 'LEVEL_CORRUPTION', m, last.offset)
    // Nothing was deleted by the failed open: repair finds every table and brings every key back.
    const report = await LsmLevel.repair(dir)
    expect(report.tables).toBeGreaterThan(0)
    const db = await opened(dir)
    const audit = await auditReads(db, expected)
    expect(audit.right).toBe(expected.size)
    await db.close()
  })

  it('a MANIFEST cut inside its first record is LEVEL_CORRUPTION; repair rebuilds it from the tables', async () => {
    const { dir, expected } = await manifestDb()
    const m = manifest(dir)
    nodeFs.truncateSync(m, 10)
    await expectOpenFails(new LsmLevel(dir), 'LEVEL_CORRUPTION', m)
    const report = await LsmLevel.repair(dir)
    expect(report.tablesKept).toBeGreaterThan(0)
    const db = await opened(dir)
    const audit = await auditReads(db, expected)
    expect(audit.right).toBe(expected.size)
    await db.close()
  })
})

describe('CURRENT', () => {
  const cases: Array<[string, (current: string) => void]> = [
    ['holds garbage', (c) => nodeFs.writeFileSync(c, 'garbage\n')],
    ['names a MANIFEST that does not exist', (c) => nodeFs.writeFileSync(c, 'MANIFEST-999999\n')],
    ['is empty', (c) => nodeFs.writeFileSync(c, '')],
    ['lost its newline', (c) => nodeFs.truncateSync(c, fileSize(c) - 1)],
    ['has a flipped byte', (c) => flipByte(c, 3)]
  ]
  for (const [what, damage] of cases) {
    it(`that ${what} is LEVEL_CORRUPTION naming CURRENT; the data is untouched and repair brings it back`, async () => {
      const { dir, expected } = await manifestDb()
      const before = liveTables(dir).map((p) => [p, fileSize(p)])
      damage(join(dir, 'CURRENT'))
      await expectOpenFails(new LsmLevel(dir), 'LEVEL_CORRUPTION', join(dir, 'CURRENT'))
      expect(before.map(([p]) => [p, fileSize(p as string)])).toEqual(before)
      await LsmLevel.repair(dir)
      const db = await opened(dir)
      expect((await auditReads(db, expected)).right).toBe(expected.size)
      await db.close()
    })
  }

  it('a missing CURRENT beside tables is LEVEL_CORRUPTION (not a new, empty database that deletes them); repair brings the data back', async () => {
    const { dir, expected } = await manifestDb()
    const before = liveTables(dir)
    nodeFs.unlinkSync(join(dir, 'CURRENT'))
    await expectOpenFails(new LsmLevel(dir), 'LEVEL_CORRUPTION', join(dir, 'CURRENT'))
    expect(before.every((p) => nodeFs.existsSync(p))).toBe(true)
    await LsmLevel.repair(dir)
    const db = await opened(dir)
    expect((await auditReads(db, expected)).right).toBe(expected.size)
    await db.close()
  })
})
