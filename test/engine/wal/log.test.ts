import { describe, it, expect } from 'vitest'
import { MemoryFileSystem } from '../../../engine/src/fs/memory.js'
import { LogWriter } from '../../../engine/src/wal/log-writer.js'
import { readLog, type LogReadMode, type LogReadSummary, type LogRecord } from '../../../engine/src/wal/log-reader.js'
import { BLOCK_SIZE, HEADER_SIZE, RecordType } from '../../../engine/src/wal/log-format.js'
import { crc32c, maskCrc } from '../../../engine/src/crc.js'
import { randomBytes, seededRandom } from '../../support/random.mjs'

/** Deterministic bytes so a misplaced fragment shows up as a mismatch. */
function payload (n: number, seed: number): Buffer {
  return randomBytes(seededRandom(seed), n)
}

function writeLog (records: Buffer[]): Buffer {
  const fs = new MemoryFileSystem()
  const f = fs.openWritable('/log')
  const w = new LogWriter(f)
  for (const r of records) w.addRecord(r)
  f.close()
  return fs.readFile('/log')
}

function expectSame (actual: Buffer[], expected: Buffer[]): void {
  expect(actual.map((b) => b.length)).toEqual(expected.map((b) => b.length))
  actual.forEach((b, i) => expect(b.equals(expected[i]), `record ${i}`).toBe(true))
}

function readAll (buf: Buffer, mode?: LogReadMode): { records: LogRecord[], summary: LogReadSummary } {
  const records: LogRecord[] = []
  const it = readLog(buf, { mode, fileName: '000007.log' })
  for (;;) {
    const r = it.next()
    if (r.done === true) return { records, summary: r.value }
    records.push(r.value)
  }
}

/** A raw fragment, for crafting sequences the writer never produces. */
function fragment (type: number, data: Buffer): Buffer {
  const h = Buffer.alloc(HEADER_SIZE)
  h.writeUInt32LE(maskCrc(crc32c(data, crc32c(Buffer.from([type])))), 0)
  h.writeUInt16LE(data.length, 4)
  h[6] = type
  return Buffer.concat([h, data])
}

function expectCorruption (fn: () => unknown, offset: number): void {
  try {
    fn()
  } catch (err: any) {
    expect(err.code).toBe('LEVEL_CORRUPTION')
    expect(err.file).toBe('000007.log')
    expect(err.offset).toBe(offset)
    expect(err.message).toContain('000007.log')
    expect(err.message).toContain(`offset ${offset}`)
    return
  }
  expect.unreachable('expected LEVEL_CORRUPTION')
}

describe('log writer and reader', () => {
  it('round-trips records of many sizes, including empty and multi-block ones', () => {
    const sizes = [0, 1, 100, 0, BLOCK_SIZE, 3 * BLOCK_SIZE + 5, 7, 70000, 0, 1]
    const recs = sizes.map((n, i) => payload(n, i))
    const log = writeLog(recs)
    const { records, summary } = readAll(log, 'absolute-consistency')
    expectSame(records.map((r) => r.data), recs)
    expect(summary).toMatchObject({ records: recs.length, droppedBytes: 0, droppedRecords: 0, validEnd: log.length })
    expect(records[0].offset).toBe(0)
    expect(records[1].offset).toBe(HEADER_SIZE)
    expect(records[2].offset).toBe(2 * HEADER_SIZE + 1)
    // Every fragment header is inside a block.
    for (const r of records) expect(r.offset % BLOCK_SIZE).toBeLessThanOrEqual(BLOCK_SIZE - HEADER_SIZE)
  })

  it('reads the same records from a ReadableFile', () => {
    const fs = new MemoryFileSystem()
    const f = fs.openWritable('/x.log')
    const w = new LogWriter(f)
    const recs = [payload(5, 1), payload(2 * BLOCK_SIZE, 2), payload(0, 3), payload(40, 4)]
    for (const r of recs) w.addRecord(r)
    f.close()
    const rf = fs.openReadable('/x.log')
    expectSame([...readLog(rf, { mode: 'absolute-consistency' })].map((r) => r.data), recs)
  })

  it('fills a block exactly, then starts the next record at the boundary', () => {
    const a = payload(BLOCK_SIZE - HEADER_SIZE, 1)
    const b = payload(10, 2)
    const log = writeLog([a, b])
    expect(log.length).toBe(BLOCK_SIZE + HEADER_SIZE + 10)
    expect(log[6]).toBe(RecordType.FULL)
    expect(log[BLOCK_SIZE + 6]).toBe(RecordType.FULL)
    const { records } = readAll(log, 'absolute-consistency')
    expect(records.map((r) => r.offset)).toEqual([0, BLOCK_SIZE])
    expectSame(records.map((r) => r.data), [a, b])
  })

  it('zero-fills a block tail shorter than a header', () => {
    // Leaves 6 bytes in the block: too small for a header.
    const a = payload(BLOCK_SIZE - HEADER_SIZE - 6, 1)
    const b = payload(3, 2)
    const log = writeLog([a, b])
    expect(log.subarray(BLOCK_SIZE - 6, BLOCK_SIZE)).toEqual(Buffer.alloc(6))
    expect(log.length).toBe(BLOCK_SIZE + HEADER_SIZE + 3)
    expectSame(readAll(log, 'absolute-consistency').records.map((r) => r.data), [a, b])
  })

  it('writes an empty FIRST fragment when exactly a header fits at the block end', () => {
    const a = payload(BLOCK_SIZE - 2 * HEADER_SIZE, 1)
    const b = payload(20, 2)
    const log = writeLog([a, b])
    const at = BLOCK_SIZE - HEADER_SIZE
    expect(log.readUInt16LE(at + 4)).toBe(0)
    expect(log[at + 6]).toBe(RecordType.FIRST)
    expect(log[BLOCK_SIZE + 6]).toBe(RecordType.LAST)
    const { records } = readAll(log, 'absolute-consistency')
    expectSame(records.map((r) => r.data), [a, b])
    expect(records[1].offset).toBe(at)
  })

  it('continues an existing log at its block position', () => {
    const fs = new MemoryFileSystem()
    const f = fs.openWritable('/l')
    new LogWriter(f).addRecord(payload(BLOCK_SIZE - 10, 1))
    // A second writer over the same file (size BLOCK_SIZE - 3) must pad the 3-byte tail.
    new LogWriter(f).addRecord(payload(5, 2))
    f.close()
    expect(readAll(fs.readFile('/l'), 'absolute-consistency').records.map((r) => r.data.length)).toEqual([BLOCK_SIZE - 10, 5])
  })
})

describe('log damage', () => {
  const recs = [payload(100, 1), payload(200, 2), payload(BLOCK_SIZE + 500, 3), payload(50, 4), payload(60, 5)]
  const clean = writeLog(recs)
  const offsets = readAll(clean).records.map((r) => r.offset)
  const lastStart = offsets[4]

  it('a torn tail (payload cut short) is tolerated by default, fatal in absolute mode, dropped in skip mode', () => {
    const torn = clean.subarray(0, clean.length - 10)
    const t = readAll(torn)
    expectSame(t.records.map((r) => r.data), recs.slice(0, 4))
    expect(t.summary.droppedRecords).toBe(1)
    expect(t.summary.droppedBytes).toBe(torn.length - lastStart)
    expect(t.summary.validEnd).toBe(lastStart)
    expectCorruption(() => readAll(torn, 'absolute-consistency'), lastStart)
    const s = readAll(torn, 'skip-any-corrupted')
    expect(s.records.length).toBe(4)
    expect(s.summary.droppedRecords).toBe(1)
  })

  it('a trailer shorter than a header at end of file is a torn tail', () => {
    const torn = clean.subarray(0, lastStart + 3)
    expectSame(readAll(torn).records.map((r) => r.data), recs.slice(0, 4))
    expect(readAll(torn).summary.drops[0]).toMatchObject({ offset: lastStart, bytes: 3 })
    expectCorruption(() => readAll(torn, 'absolute-consistency'), lastStart)
  })

  it('a multi-block record cut off after its FIRST fragment is a torn tail', () => {
    const torn = clean.subarray(0, offsets[2] + 1000)
    const t = readAll(torn)
    expectSame(t.records.map((r) => r.data), recs.slice(0, 2))
    expectCorruption(() => readAll(torn, 'absolute-consistency'), offsets[2])
    // Cut exactly at the block boundary: FIRST complete, nothing after it.
    const atBoundary = clean.subarray(0, BLOCK_SIZE)
    expect(readAll(atBoundary).records.length).toBe(2)
    expect(readAll(atBoundary).summary.drops[0].reason).toMatch(/FIRST without LAST/)
    expectCorruption(() => readAll(atBoundary, 'absolute-consistency'), offsets[2])
  })

  it('a zero-filled tail is tolerated', () => {
    const z = Buffer.concat([clean, Buffer.alloc(5000)])
    expect(readAll(z).records.length).toBe(5)
    expect(readAll(z).summary.droppedBytes).toBe(5000)
    expectCorruption(() => readAll(z, 'absolute-consistency'), clean.length)
  })

  it('a bad CRC in the middle followed by valid records throws in tolerate mode, naming file and offset', () => {
    const bad = Buffer.from(clean)
    bad[offsets[1] + HEADER_SIZE + 5] ^= 1
    expectCorruption(() => readAll(bad), offsets[1])
    expectCorruption(() => readAll(bad, 'absolute-consistency'), offsets[1])
    // Skip mode loses the rest of block 0 (records 1 and 2's FIRST), then drops the orphan LAST and resumes.
    const s = readAll(bad, 'skip-any-corrupted')
    expectSame(s.records.map((r) => r.data), [recs[0], recs[3], recs[4]])
    expect(s.summary.droppedRecords).toBe(2)
    expect(s.summary.drops[0]).toMatchObject({ offset: offsets[1], reason: 'fragment checksum mismatch' })
    expect(s.summary.drops[1].reason).toMatch(/LAST fragment without a FIRST/)
  })

  it('a bad CRC in the last record alone is a torn tail', () => {
    const bad = Buffer.from(clean)
    bad[bad.length - 1] ^= 0xff
    expect(readAll(bad).records.length).toBe(4)
    expectCorruption(() => readAll(bad, 'absolute-consistency'), lastStart)
  })

  it('a bad length is detected; valid data after it in the same block makes it corruption', () => {
    const bad = Buffer.from(clean)
    bad.writeUInt16LE(0xfff0, offsets[0] + 4)
    expectCorruption(() => readAll(bad), offsets[0])
    expectCorruption(() => readAll(bad, 'absolute-consistency'), offsets[0])
    const s = readAll(bad, 'skip-any-corrupted')
    expectSame(s.records.map((r) => r.data), [recs[3], recs[4]])
    expect(s.summary.drops[0].reason).toMatch(/bad fragment length/)
    // A bad length in the last record, with nothing after it: a tail.
    const tail = Buffer.from(clean)
    tail.writeUInt16LE(0xfff0, lastStart + 4)
    expect(readAll(tail).records.length).toBe(4)
  })

  it('an unknown type is damage', () => {
    const log = Buffer.concat([fragment(RecordType.FULL, payload(3, 1)), fragment(9, payload(4, 2)), fragment(RecordType.FULL, payload(5, 3))])
    expectCorruption(() => readAll(log), 10)
    const s = readAll(log, 'skip-any-corrupted')
    expect(s.records.map((r) => r.data.length)).toEqual([3, 5])
    expect(s.summary.drops[0]).toMatchObject({ offset: 10, bytes: 11 })
  })

  it('detects FIRST without LAST, MIDDLE or LAST without FIRST', () => {
    const a = payload(10, 1)
    const cases: Array<{ log: Buffer, offset: number, skipKeeps: number[], reason: RegExp }> = [
      { log: Buffer.concat([fragment(RecordType.FIRST, a), fragment(RecordType.FULL, a)]), offset: 0, skipKeeps: [1], reason: /FIRST fragment without a LAST/ },
      { log: Buffer.concat([fragment(RecordType.FULL, a), fragment(RecordType.MIDDLE, a), fragment(RecordType.FULL, a)]), offset: 17, skipKeeps: [0, 2], reason: /MIDDLE fragment without a FIRST/ },
      { log: Buffer.concat([fragment(RecordType.LAST, a), fragment(RecordType.FULL, a)]), offset: 0, skipKeeps: [1], reason: /LAST fragment without a FIRST/ },
      { log: Buffer.concat([fragment(RecordType.FIRST, a), fragment(RecordType.FIRST, a), fragment(RecordType.LAST, a)]), offset: 0, skipKeeps: [1], reason: /FIRST fragment without a LAST/ }
    ]
    for (const c of cases) {
      expectCorruption(() => readAll(c.log), c.offset)
      expectCorruption(() => readAll(c.log, 'absolute-consistency'), c.offset)
      const s = readAll(c.log, 'skip-any-corrupted')
      expect(s.records.map((r) => r.offset)).toEqual(c.skipKeeps.map((i) => i * 17))
      expect(s.summary.droppedRecords).toBe(1)
      expect(s.summary.drops[0].reason).toMatch(c.reason)
    }
  })

  it('skip mode salvages every record after damage in the middle of a long log and counts the drops', () => {
    const many = Array.from({ length: 400 }, (_, i) => payload(300 + (i % 7) * 100, i))
    const log = writeLog(many)
    const offs = readAll(log).records.map((r) => r.offset)
    const bad = Buffer.from(log)
    // Damage two records in different blocks.
    const victims = [40, 250]
    for (const v of victims) bad[offs[v] + HEADER_SIZE + 1] ^= 0x55
    expectCorruption(() => readAll(bad), offs[40])
    const s = readAll(bad, 'skip-any-corrupted')
    // Each damaged record loses the rest of its block; a record survives iff it does not touch a lost range.
    const lost = victims.map((v) => [offs[v], (Math.floor(offs[v] / BLOCK_SIZE) + 1) * BLOCK_SIZE])
    const expected = offs.filter((o, i) => {
      const end = offs[i + 1] ?? log.length
      return lost.every(([a, b]) => end <= a || o >= b)
    })
    expect(s.records.map((r) => r.offset)).toEqual(expected)
    expect(expected.length).toBeGreaterThan(many.length - 80)
    for (const r of s.records) expect(r.data.equals(many[offs.indexOf(r.offset)])).toBe(true)
    // Two damaged block tails, each followed by an orphan LAST of the record that straddled into the next block (if any).
    expect(s.summary.droppedRecords).toBeGreaterThanOrEqual(2)
    expect(s.summary.droppedRecords).toBeLessThanOrEqual(4)
  })
})
