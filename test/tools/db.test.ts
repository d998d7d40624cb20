import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { LsmLevel } from 'lsm-level'
import { beforeAll, describe, expect, test } from 'vitest'
import { expectOneLineFailure, keyOf, levelring, levelringJson, LIVE_KEYS, LOG_ONLY, valueOf, writeKnownDatabase } from './levelring-cli.js'
import { tempRoot } from '../support/temp-dir.js'

// `levelring db ...` run as a child process on a database the engine wrote (and, once, holds). Each test
// works on its own copy of the database, so they run concurrently.

const root = tempRoot('levelring-db')
let known: string

beforeAll(async () => {
  known = join(root, 'known')
  await writeKnownDatabase(known)
})

/** A private copy of the known database, so tests that write can run side by side. */
function copyOfKnown (name: string): string {
  const d = join(root, name)
  cpSync(known, d, { recursive: true })
  return d
}

describe.concurrent('reads and writes', () => {
  test('get, count and scan see the live entries: deletions hidden, the write only in the commit log included', async () => {
    const d = copyOfKnown('reads')
    expect((await levelring(['db', 'get', d, keyOf(1)])).stdout).toBe(`${valueOf(1)}\n`)
    expect(await levelringJson(['db', 'get', d, LOG_ONLY.key])).toEqual({ key: LOG_ONLY.key, value: LOG_ONLY.value, valueSize: LOG_ONLY.value.length })
    expectOneLineFailure(await levelring(['db', 'get', d, keyOf(0)]), new RegExp(`LEVELRING_NOT_FOUND: key ${keyOf(0)} not found in ${d}$`, 'm'))
    expect((await levelring(['db', 'count', d])).stdout).toBe(`${LIVE_KEYS}\n`)
    expect(await levelringJson(['db', 'count', d, '--prefix', 'key001'])).toEqual({ dir: d, count: 90 })

    const scan = await levelringJson(['db', 'scan', d, '--prefix', 'key0001'])
    expect(scan).toEqual({ dir: d, entries: [1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => ({ key: keyOf(10 + i), value: valueOf(10 + i) })), count: 9 })
    const text = await levelring(['db', 'scan', d, '--reverse', '--limit', '2', '--no-values'])
    expect(text.stdout).toBe(`${LOG_ONLY.key}\n${keyOf(599)}\n`)
    const hex = await levelring(['db', 'get', d, Buffer.from(keyOf(2)).toString('hex'), '--encoding', 'hex'])
    expect(hex.stdout).toBe(`${Buffer.from(valueOf(2)).toString('hex')}\n`)
    const bad = await levelring(['db', 'get', d, 'xyz', '--encoding', 'hex'])
    expectOneLineFailure(bad, /KEY: 'xyz' is not hex/)
  })

  test('put and del are durable across runs; --raw writes the exact bytes', async () => {
    const d = copyOfKnown('writes')
    expect((await levelring(['db', 'put', d, 'new-key', 'new value'])).stdout).toBe('put new-key (9 bytes)\n')
    expect((await levelring(['db', 'get', d, 'new-key', '--raw'])).stdout).toBe('new value')
    expect((await levelring(['db', 'del', d, keyOf(1)])).stdout).toBe(`deleted ${keyOf(1)}\n`)
    expect((await levelring(['db', 'get', d, keyOf(1)])).code).toBe(1)
    expect((await levelring(['db', 'count', d])).stdout).toBe(`${LIVE_KEYS}\n`) // one added, one deleted
    const fresh = join(root, 'fresh')
    expectOneLineFailure(await levelring(['db', 'put', fresh, 'k', 'v']), /no such database directory/)
    expect((await levelring(['db', 'put', fresh, 'k', 'v', '--create'])).code).toBe(0)
    expect((await levelring(['db', 'get', fresh, 'k'])).stdout).toBe('v\n')
  })
})

describe.concurrent('shape and maintenance', () => {
  test('lsm draws the levels from the MANIFEST without changing a file; approxsize estimates from the tables', async () => {
    const d = copyOfKnown('lsm')
    const before = readdirSync(d).sort()
    const json = await levelringJson(['db', 'lsm', d])
    const text = await levelring(['db', 'lsm', d])
    expect(readdirSync(d).sort()).toEqual(before) // read-only: no log replayed, no MANIFEST written
    const used = json.levels.filter((l: { files: number }) => l.files > 0)
    expect(used.length).toBeGreaterThanOrEqual(2)
    expect(json.levels.flatMap((l: { tables: Array<{ file: string }> }) => l.tables.map((t) => t.file)).sort())
      .toEqual(before.filter((n) => n.endsWith('.sst')))
    const pending = json.logs.filter((l: { pending: boolean }) => l.pending)
    expect(pending).toHaveLength(1)
    for (const l of used) expect(text.stdout).toMatch(new RegExp(`^L${l.level}\\s+${l.files}\\s+[\\d.]+ (B|KiB)\\s+█+$`, 'm'))
    expect(text.stdout).toContain(`commit logs not yet in a table: ${pending[0].file as string}`)

    const all = await levelringJson(['db', 'approxsize', d, keyOf(0), keyOf(600)])
    const half = await levelringJson(['db', 'approxsize', d, keyOf(0), keyOf(300)])
    const none = await levelringJson(['db', 'approxsize', d, 'a', 'b'])
    expect(all.bytes).toBeGreaterThan(half.bytes)
    expect(half.bytes).toBeGreaterThan(0)
    expect(none.bytes).toBe(0)
  })

  test('compact rewrites the levels and drops deleted entries, keeping every live key', async () => {
    const d = copyOfKnown('compact')
    const r = await levelringJson(['db', 'compact', d])
    const bytes = (levels: Array<{ bytes: number }>): number => levels.reduce((n, l) => n + l.bytes, 0)
    expect(bytes(r.after)).toBeLessThan(bytes(r.before))
    expect(r.after.filter((l: { files: number }) => l.files > 0)).toHaveLength(1)
    expect((await levelring(['db', 'count', d])).stdout).toBe(`${LIVE_KEYS}\n`)
    const text = await levelring(['db', 'compact', d, '--from', keyOf(100), '--to', keyOf(200)])
    expect(text.stdout).toMatch(new RegExp(`^${d}: compacted \\[${keyOf(100)}, ${keyOf(200)}\\]$`, 'm'))
  })

  test('check reads everything; a damaged block is named with its file and offset; repair salvages the rest', async () => {
    const d = copyOfKnown('damaged')
    const ok = await levelringJson(['db', 'check', d])
    expect(ok.ok).toBe(true)
    expect(ok.results.every((r: { ok: boolean }) => r.ok)).toBe(true)
    expect(ok.tables).toBe(readdirSync(d).filter((n) => n.endsWith('.sst')).length)

    const table = join(d, readdirSync(d).filter((n) => n.endsWith('.sst')).sort()[0])
    const layout = await levelringJson(['sst', 'layout', table])
    const bytes = readFileSync(table)
    bytes[layout.dataBlocks[1].offset + 5] ^= 0x01
    writeFileSync(table, bytes)
    const bad = await levelring(['db', 'check', d])
    expectOneLineFailure(bad, new RegExp(`1 damaged file \\(first: ${table}: LEVEL_CORRUPTION: data block checksum mismatch .*offset ${layout.dataBlocks[1].offset}\\)`))
    expect(bad.stdout).toMatch(new RegExp(`^${table}: FAILED: `, 'm'))

    const repair = await levelringJson(['db', 'repair', d])
    expect(repair).toMatchObject({ tablesRewritten: 1, blocksDropped: 1, tablesLost: 0 })
    expect((await levelring(['db', 'check', d])).code).toBe(0)
    const count = Number((await levelring(['db', 'count', d])).stdout)
    expect(count).toBeLessThan(LIVE_KEYS)
    expect(count).toBeGreaterThan(LIVE_KEYS - 100)
  })
})

test.concurrent('a database a running process holds is refused by every db command, naming the holder', async () => {
  const d = copyOfKnown('held')
  const db = new LsmLevel(d)
  await db.open()
  try {
    const runs = await Promise.all([
      levelring(['db', 'get', d, keyOf(1)]),
      levelring(['db', 'lsm', d]),
      levelring(['db', 'check', d]),
      levelring(['db', 'repair', d])
    ])
    for (const r of runs) {
      expectOneLineFailure(r, new RegExp(`LEVEL_LOCKED: database at ${d} is locked by another holder \\(LOCK held by live process ${process.pid}\\)`))
      expect(r.stdout).toBe('')
    }
  } finally {
    await db.close()
  }
  expect((await levelring(['db', 'get', d, keyOf(1)])).stdout).toBe(`${valueOf(1)}\n`)
})

test.concurrent('a directory that is not a database is one line, and nothing is created in it', async () => {
  const d = join(root, 'empty')
  cpSync(known, d, { recursive: true, filter: (src) => src === known })
  const r = await levelring(['db', 'scan', d])
  expectOneLineFailure(r, /is not a database \(it has no CURRENT file\)/)
  expect(readdirSync(d)).toEqual([])
})
