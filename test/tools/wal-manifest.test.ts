import { existsSync, readdirSync, readFileSync, renameSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { LsmLevel } from 'lsm-level'
import { beforeAll, describe, expect, test } from 'vitest'
import { expectOneLineFailure, levelring, levelringJson, LOG_ONLY, writeKnownDatabase } from './levelring-cli.js'
import { tempRoot } from '../support/temp-dir.js'

// `levelring wal dump` and `levelring manifest dump|check` run as child processes on files the engine wrote.

const root = tempRoot('levelring-wal')
let dir: string
let lastSequence: number

beforeAll(async () => {
  dir = join(root, 'db')
  lastSequence = await writeKnownDatabase(dir)
})

/** The commit logs of dir, oldest first. */
function logs (d: string): string[] {
  return readdirSync(d).filter((n) => n.endsWith('.log')).sort().map((n) => join(d, n))
}

/** Records in the long log: 1 KiB each, enough to span three 32 KiB log blocks. */
const LONG_RECORDS = 70

/** A database whose last commit log spans three 32 KiB blocks: LONG_RECORDS puts of 1 KiB values, never flushed. */
async function writeLongLog (d: string): Promise<string> {
  const db = new LsmLevel(d, { writeBufferSize: 1024 * 1024 })
  await db.open()
  for (let i = 0; i < LONG_RECORDS; i++) await db.put(`long${String(i).padStart(2, '0')}`, String(i % 10).repeat(1024))
  await db.close()
  const all = logs(d)
  return all[all.length - 1]
}

describe('wal dump', () => {
  test('lists the record only the commit log holds, with its offset, sequence, kind, key and value size', async () => {
    const log = logs(dir).at(-1)!
    const text = await levelring(['wal', 'dump', log])
    expect(text.code).toBe(0)
    expect(text.stdout).toBe(
      `record at 0: batch seq ${lastSequence}, 1 op, ${12 + 1 + 1 + LOG_ONLY.key.length + 1 + LOG_ONLY.value.length} bytes\n` +
      `  ${LOG_ONLY.key} @${lastSequence} put (${LOG_ONLY.value.length} bytes)\n` +
      `${log}: 1 record, 1 op; no damage\n`)
    const json = await levelringJson(['wal', 'dump', log, '--values'])
    expect(json).toMatchObject({
      file: log,
      records: [{ offset: 0, seq: lastSequence, count: 1, ops: [{ key: LOG_ONLY.key, seq: lastSequence, kind: 'put', valueSize: LOG_ONLY.value.length, value: LOG_ONLY.value }] }],
      damage: [],
      recordCount: 1,
      opCount: 1,
      ok: true
    })
  })

  test('damage followed by intact records: every record and the damaged region listed, exit 1 naming file and offset', async () => {
    const d = join(root, 'long')
    const log = await writeLongLog(d)
    const before = await levelringJson(['wal', 'dump', log])
    expect(before.recordCount).toBe(LONG_RECORDS)
    expect(statSync(log).size).toBeGreaterThan(2 * 32768)
    // Flip a byte in the payload of the fifth record: its checksum fails, the rest of block 0 is dropped,
    // and the records in blocks 1 and 2 are still read.
    const victim = before.records[4]
    const bytes = readFileSync(log)
    bytes[victim.offset + 7 + 30] ^= 0x10
    writeFileSync(log, bytes)
    const r = await levelring(['wal', 'dump', log])
    expectOneLineFailure(r, new RegExp(`^levelring: ${log}: damaged at offset ${victim.offset} \\(fragment checksum mismatch\\) with intact records after it, and 1 more damaged region;`))
    expect(r.stdout).toMatch(new RegExp(`^damage at ${victim.offset}: ${32768 - victim.offset} bytes dropped: fragment checksum mismatch$`, 'm'))
    const json = await levelring(['wal', 'dump', log, '--json'])
    expect(json.code).toBe(1)
    const after = JSON.parse(json.stdout)
    expect(after.ok).toBe(false)
    // The record that straddled blocks 0 and 1 lost its FIRST fragment with block 0: its LAST is dropped too.
    expect(after.damage).toEqual([
      { offset: victim.offset, bytes: 32768 - victim.offset, reason: 'fragment checksum mismatch', tornTail: false },
      { offset: 32768, bytes: expect.any(Number), reason: 'LAST fragment without a FIRST', tornTail: false }
    ])
    const kept = before.records.filter((rec: { offset: number }) => rec.offset < victim.offset || rec.offset >= 32768)
    expect(after.records.map((rec: { offset: number }) => rec.offset)).toEqual(kept.map((rec: { offset: number }) => rec.offset))
  })

  test('a torn tail (the last write cut short) is reported as what recovery drops, exit 0', async () => {
    const d = join(root, 'torn')
    const log = await writeLongLog(d)
    const size = statSync(log).size
    truncateSync(log, size - 100)
    const r = await levelring(['wal', 'dump', log, '--json'])
    expect(r.code).toBe(0)
    const json = JSON.parse(r.stdout)
    expect(json).toMatchObject({ recordCount: LONG_RECORDS - 1, ok: true, tornTail: true, damage: [{ tornTail: true, reason: expect.stringMatching(/truncated at end of log/) }] })
    const text = await levelring(['wal', 'dump', log])
    expect(text.stdout).toMatch(new RegExp(`${LONG_RECORDS - 1} records, ${LONG_RECORDS - 1} ops; 1 damaged region \\(\\d+ bytes\\); torn tail from offset ${json.damage[0].offset}, which recovery drops`))
  })
})

describe('manifest dump and check', () => {
  test('dump: the edits in order, and the live files at the end are the tables in the directory', async () => {
    const json = await levelringJson(['manifest', 'dump', dir])
    const current = readFileSync(join(dir, 'CURRENT'), 'utf8').trim()
    expect(json.file).toBe(join(dir, current))
    expect(json.edits[0]).toMatchObject({ offset: 0, formatVersion: 1, comparator: 'lsm-level.BytewiseComparator' })
    expect(json.lastSequence).toBe(lastSequence - 1) // the last write is only in the commit log
    const live = json.levels.flatMap((l: { tables: Array<{ file: string }> }) => l.tables.map((t) => t.file)).sort()
    expect(live).toEqual(readdirSync(dir).filter((n) => n.endsWith('.sst')).sort())
    expect(json.levels.filter((l: { files: number }) => l.files > 0).length).toBeGreaterThanOrEqual(2)
    for (const level of json.levels) {
      for (const t of level.tables) expect(t.size).toBe(statSync(join(dir, t.file)).size)
    }
    // Every table added and then removed by compaction appears in the edits as a + and later a -.
    const added = new Set(json.edits.flatMap((e: { newFiles: Array<{ file: string }> }) => e.newFiles.map((f) => f.file)))
    const deleted = json.edits.flatMap((e: { deletedFiles: Array<{ file: string }> }) => e.deletedFiles.map((f) => f.file))
    for (const f of deleted) expect(added.has(f)).toBe(true)

    const text = await levelring(['manifest', 'dump', join(dir, current)])
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(/^edit at 0: format version 1, comparator lsm-level\.BytewiseComparator, log number \d+, next file number \d+, last sequence 0$/m)
    expect(text.stdout).toMatch(new RegExp(`^at the end: log number ${json.logNumber}, next file number ${json.nextFileNumber}, last sequence ${json.lastSequence}$`, 'm'))
    expect(text.stdout).toMatch(new RegExp(`^  ${live[0]}\\s+\\d+\\s+key\\d+ @\\d+ (put|delete)`, 'm'))
  })

  test('check: passes on the database; a missing table and a wrong size are named, exit 1', async () => {
    const ok = await levelring(['manifest', 'check', dir])
    expect(ok.code).toBe(0)
    expect(ok.stdout).toMatch(/live tables, every one present with the size the MANIFEST records/)

    const d = join(root, 'broken-manifest')
    await writeKnownDatabase(d)
    const json = await levelringJson(['manifest', 'dump', d])
    const [first, second] = json.levels.flatMap((l: { level: number, tables: Array<{ file: string, level: number }> }) => l.tables)
    renameSync(join(d, first.file), join(root, first.file))
    truncateSync(join(d, second.file), 100)
    const r = await levelring(['manifest', 'check', d, '--json'])
    expect(r.code).toBe(1)
    expect(JSON.parse(r.stdout).problems).toEqual([
      { file: first.file, level: first.level, problem: 'missing' },
      { file: second.file, level: second.level, problem: `100 bytes on disk, the MANIFEST records ${second.size}` }
    ])
    expectOneLineFailure(r, new RegExp(`LEVEL_CORRUPTION: .*MANIFEST-\\d+: L${first.level} ${first.file} is missing \\(and 1 more problem\\)`))
  })

  test('a damaged MANIFEST or CURRENT is one line naming the file and offset', async () => {
    const d = join(root, 'damaged-manifest')
    await writeKnownDatabase(d)
    const manifest = join(d, readFileSync(join(d, 'CURRENT'), 'utf8').trim())
    const bytes = readFileSync(manifest)
    bytes[20] ^= 0xff // inside the first edit: followed by intact edits, so not a torn tail
    writeFileSync(manifest, bytes)
    const r = await levelring(['manifest', 'dump', d])
    expectOneLineFailure(r, new RegExp(`LEVEL_CORRUPTION: log damaged: fragment checksum mismatch.*\\(file ${manifest}, offset 0\\)`))
    writeFileSync(join(d, 'CURRENT'), 'garbage')
    expectOneLineFailure(await levelring(['manifest', 'check', d]), new RegExp(`${join(d, 'CURRENT')} \\(offset 0\\) does not hold`))
    expect(existsSync(join(d, 'LOCK'))).toBe(false)
  })
})
