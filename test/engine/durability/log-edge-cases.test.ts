// The commit log's edge cases, seen through the database: a record spanning blocks, a block trailer shorter
// than a header, a bad length, a bad checksum, and FIRST/MIDDLE/LAST out of sequence, each in the middle of the
// log (always LEVEL_CORRUPTION naming file and offset) and at its end (a torn write: dropped by default, refused
// by absolute-consistency). Plus the MANIFEST's stricter tail rule, on the reader itself.
import { describe, it, expect } from 'vitest'
import * as nodeFs from 'node:fs'
import { join } from 'node:path'
import { LsmLevel } from 'lsm-level'
import { auditReads, expectOpenFails, fileSize, flipByte, newestLogWithData, records, retypeFragment, writeAt } from './fixtures/damage.js'
import { BLOCK_SIZE, HEADER_SIZE, RecordType } from '../../../engine/src/wal/log-format.js'
import { LogWriter } from '../../../engine/src/wal/log-writer.js'
import { readLog, type LogReadMode } from '../../../engine/src/wal/log-reader.js'
import { MemoryFileSystem } from '../../../engine/src/fs/memory.js'
import { tempRoot } from '../../support/temp-dir.js'

const root = tempRoot('lsm-log-edges')
let n = 0

const MODES = ['tolerate-corrupted-tail', 'absolute-consistency'] as const

/** Writes puts (key, value) in order, one log record each, and closes without a flush. */
async function logDb (puts: Array<[string, string]>): Promise<{ dir: string, log: string, expected: Map<string, string> }> {
  const dir = join(root, `db${n++}`)
  const db = new LsmLevel<string, string>(dir)
  for (const [k, v] of puts) await db.put(k, v)
  await db.close()
  return { dir, log: newestLogWithData(dir), expected: new Map(puts) }
}

const small = (count: number, from = 0): Array<[string, string]> =>
  Array.from({ length: count }, (_, i) => [`k${String(from + i).padStart(3, '0')}`, `value ${from + i}`])

/** Opening in each mode: damage in the middle fails in both, naming the log and `offset`. */
async function expectCorruptInBothModes (dir: string, log: string, offset: number): Promise<void> {
  for (const walRecoveryMode of MODES) await expectOpenFails(new LsmLevel(dir, { walRecoveryMode }), 'LEVEL_CORRUPTION', log, offset)
}

/** Damage at the end: absolute-consistency fails naming `offset`; the default drops exactly `lost`. */
async function expectTornTail (dir: string, log: string, offset: number, expected: Map<string, string>, lost: string[]): Promise<void> {
  await expectOpenFails(new LsmLevel(dir, { walRecoveryMode: 'absolute-consistency' }), 'LEVEL_CORRUPTION', log, offset)
  const db = new LsmLevel<string, string>(dir)
  await db.open()
  const audit = await auditReads(db, expected)
  expect(audit.missing).toEqual(lost)
  expect(audit.corrupt).toBe(0)
  expect(audit.right).toBe(expected.size - lost.length)
  await db.close()
}

describe('a record spanning blocks (FIRST, MIDDLE, LAST)', () => {
  const big = 'B'.repeat(70_000)

  it('is read back whole, between small records', async () => {
    const { dir, log, expected } = await logDb([...small(5), ['big', big], ...small(5, 5)])
    const recs = records(log)
    expect(recs[5].length).toBeGreaterThan(2 * BLOCK_SIZE)
    const db = new LsmLevel<string, string>(dir)
    await db.open()
    expect((await auditReads(db, expected)).right).toBe(11)
    await db.close()
  })

  it('cut off inside its MIDDLE fragment at the end of the log: a torn write', async () => {
    const { dir, log, expected } = await logDb([...small(5), ['big', big]])
    const recs = records(log)
    expect(recs[5].offset).toBeLessThan(BLOCK_SIZE)
    nodeFs.truncateSync(log, BLOCK_SIZE + 100)
    // The damage is reported where it is: the MIDDLE fragment cut short at the start of block 1.
    await expectTornTail(dir, log, BLOCK_SIZE, expected, ['big'])
  })

  it('a damaged MIDDLE fragment followed by more records: LEVEL_CORRUPTION at that fragment', async () => {
    const { dir, log } = await logDb([...small(5), ['big', big], ...small(5, 5)])
    flipByte(log, BLOCK_SIZE + HEADER_SIZE + 1000)
    await expectCorruptInBothModes(dir, log, BLOCK_SIZE)
  })
})

describe('a block trailer shorter than a header', () => {
  /** Puts a record that ends `gap` bytes before the end of block 0, then one more record. */
  async function trailerDb (gap: number): Promise<{ dir: string, log: string, expected: Map<string, string> }> {
    const dir = join(root, `db${n++}`)
    const db = new LsmLevel<string, string>(dir)
    const puts: Array<[string, string]> = small(3)
    for (const [k, v] of puts) await db.put(k, v)
    // Every unsynced write reaches the file at once, so its size is where the next record starts; a
    // calibration put measures the bytes a put of this key costs beyond its value.
    const logPath = newestLogWithData(dir)
    const key = 'filler'
    const before = fileSize(logPath)
    await db.put(key, 'c'.repeat(200))
    const at = fileSize(logPath)
    const overhead = at - before - 200
    // A length of 16384 or more takes a 3-byte varint, one more than the calibration's 200.
    let valueLen = BLOCK_SIZE - gap - at - overhead
    if (valueLen >= 16384) valueLen--
    expect(valueLen).toBeGreaterThan(200)
    puts.push([key, 'f'.repeat(valueLen)])
    await db.put(key, 'f'.repeat(valueLen))
    expect(fileSize(logPath)).toBe(BLOCK_SIZE - gap)
    puts.push(['after', 'the trailer'])
    await db.put('after', 'the trailer')
    await db.close()
    return { dir, log: logPath, expected: new Map(puts) }
  }

  for (const gap of [1, 6]) {
    it(`(${gap} zero bytes) is skipped: the next record starts in the next block`, async () => {
      const { dir, log, expected } = await trailerDb(gap)
      const bytes = nodeFs.readFileSync(log)
      expect(bytes.subarray(BLOCK_SIZE - gap, BLOCK_SIZE).every((b) => b === 0)).toBe(true)
      expect(records(log).map((r) => r.offset)).toContain(BLOCK_SIZE)
      for (const walRecoveryMode of MODES) {
        const db = new LsmLevel<string, string>(dir, { walRecoveryMode })
        await db.open()
        expect((await auditReads(db, expected)).right).toBe(expected.size)
        await db.close()
      }
    })
  }

  it('a log that ends inside the trailer lost the record after it: a torn write', async () => {
    const { dir, log, expected } = await trailerDb(6)
    nodeFs.truncateSync(log, BLOCK_SIZE - 3)
    await expectTornTail(dir, log, BLOCK_SIZE - 6, expected, ['after'])
  })
})

describe('a bad length', () => {
  it('in the middle of the log: LEVEL_CORRUPTION at that fragment', async () => {
    const { dir, log } = await logDb(small(10))
    const recs = records(log)
    writeAt(log, recs[4].offset + 4, Buffer.from([0xff, 0x7f]))
    await expectCorruptInBothModes(dir, log, recs[4].offset)
  })

  it('in the last record, running past the end of the log: a torn write', async () => {
    const { dir, log, expected } = await logDb(small(10))
    const recs = records(log)
    writeAt(log, recs[9].offset + 4, Buffer.from([0xff, 0x00]))
    await expectTornTail(dir, log, recs[9].offset, expected, ['k009'])
  })
})

describe('a bad checksum', () => {
  it('in the middle of the log: LEVEL_CORRUPTION at that record', async () => {
    const { dir, log } = await logDb(small(10))
    const recs = records(log)
    flipByte(log, recs[3].offset + 1)
    await expectCorruptInBothModes(dir, log, recs[3].offset)
  })

  it('in the last record: taken for a torn write by default', async () => {
    const { dir, log, expected } = await logDb(small(10))
    const recs = records(log)
    flipByte(log, recs[9].offset + HEADER_SIZE + 3)
    await expectTornTail(dir, log, recs[9].offset, expected, ['k009'])
  })
})

describe('FIRST, MIDDLE and LAST out of sequence (checksums valid)', () => {
  for (const [name, type] of [['MIDDLE', RecordType.MIDDLE], ['LAST', RecordType.LAST], ['FIRST', RecordType.FIRST]] as const) {
    it(`a ${name} where a whole record belongs, in the middle: LEVEL_CORRUPTION`, async () => {
      const { dir, log } = await logDb(small(10))
      const recs = records(log)
      retypeFragment(log, recs[4].offset, type)
      // A stray FIRST is found out when the next whole record starts; MIDDLE and LAST at once.
      await expectCorruptInBothModes(dir, log, recs[4].offset)
    })
  }

  it('a FIRST as the last fragment: a record cut off by a crash, a torn write', async () => {
    const { dir, log, expected } = await logDb(small(10))
    const recs = records(log)
    retypeFragment(log, recs[9].offset, RecordType.FIRST)
    await expectTornTail(dir, log, recs[9].offset, expected, ['k009'])
  })

  it('a LAST without its FIRST as the last fragment: no crash writes that, so LEVEL_CORRUPTION in both modes', async () => {
    const { dir, log } = await logDb(small(10))
    const recs = records(log)
    retypeFragment(log, recs[9].offset, RecordType.LAST)
    await expectCorruptInBothModes(dir, log, recs[9].offset)
  })
})

describe("the MANIFEST's reader mode (tolerate-truncated-tail)", () => {
  /** A log of three records in memory. */
  function threeRecords (): Buffer {
    const fs = new MemoryFileSystem()
    fs.mkdirp('/x')
    const f = fs.openWritable('/x/log')
    const w = new LogWriter(f)
    for (const r of ['first edit', 'second edit', 'third edit']) w.addRecord(Buffer.from(r))
    f.close()
    return fs.readFile('/x/log')
  }
  const read = (buf: Buffer, mode: LogReadMode): string[] => [...readLog(buf, { mode })].map((r) => r.data.toString())
  const lastAt = (buf: Buffer): number => [...readLog(buf)].at(-1)!.offset

  it('drops a last record cut short, or zero-filled space after the last record', () => {
    const buf = threeRecords()
    expect(read(buf.subarray(0, buf.length - 3), 'tolerate-truncated-tail')).toEqual(['first edit', 'second edit'])
    expect(read(buf.subarray(0, lastAt(buf) + 4), 'tolerate-truncated-tail')).toEqual(['first edit', 'second edit'])
    expect(read(Buffer.concat([buf, Buffer.alloc(100)]), 'tolerate-truncated-tail')).toEqual(['first edit', 'second edit', 'third edit'])
  })

  it('refuses a complete last record with a bad checksum, which the default mode takes for a torn write', () => {
    const buf = Buffer.from(threeRecords())
    const last = lastAt(buf)
    buf[last + HEADER_SIZE + 2] ^= 1
    expect(read(buf, 'tolerate-corrupted-tail')).toEqual(['first edit', 'second edit'])
    expect(() => read(buf, 'tolerate-truncated-tail')).toThrow(expect.objectContaining({ code: 'LEVEL_CORRUPTION', offset: last }))
  })

  it('refuses damage followed by a valid record, as every mode but repair does', () => {
    const buf = Buffer.from(threeRecords())
    buf[HEADER_SIZE + 2] ^= 1
    expect(() => read(buf, 'tolerate-truncated-tail')).toThrow(expect.objectContaining({ code: 'LEVEL_CORRUPTION', offset: 0 }))
  })
})
