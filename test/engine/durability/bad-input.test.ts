// Bad input gets a clear LEVEL_* error and leaves what is stored intact: keys and values of wrong types or
// null, values over the size limit (64 MiB), a location that is a file, a directory the process may not use,
// and a database written by a future format version (MANIFEST or SSTable).
import { describe, it, expect, afterAll } from 'vitest'
import * as nodeFs from 'node:fs'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { LsmLevel, MemoryFileSystem, FaultInjectingFileSystem, RealFileSystem } from 'lsm-level'
import { readLog } from 'lsm-level/tools'
import { decodeEdit, encodeEdit } from '../../../engine/src/version/version-edit.js'
import { LogWriter } from '../../../engine/src/wal/log-writer.js'
import { crc32c, maskCrc } from '../../../engine/src/crc.js'
import { liveTables, manifest, rootCause } from './fixtures/damage.js'
import { tempRoot } from '../../support/temp-dir.js'

const root = tempRoot('lsm-bad-input')
// A test may leave a directory without permissions: restore them before tempRoot removes the root (vitest
// runs after-hooks in reverse order of registration, so this one runs first).
afterAll(() => {
  for (const d of nodeFs.readdirSync(root)) { try { nodeFs.chmodSync(join(root, d), 0o755) } catch {} }
})
let n = 0
const freshDir = (): string => join(root, `db${n++}`)

/** Every file of a directory (recursively) with its bytes, to show nothing changed. */
function snapshotFiles (dir: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const e of nodeFs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || e.name === 'LOCK') continue
    const p = join(e.parentPath, e.name)
    out.set(p, nodeFs.readFileSync(p).toString('base64'))
  }
  return out
}

async function codeOf (p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p)
    return 'resolved'
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).name
  }
}

/** A database with some data in tables and some in the log. */
async function populated (dir: string, options: object = {}): Promise<{ db: LsmLevel<string, string>, entries: Array<[string, string]> }> {
  const db = new LsmLevel<string, string>(dir, { blockSize: 256, ...options })
  await db.open()
  for (let i = 0; i < 50; i++) await db.put(`key${String(i).padStart(2, '0')}`, `value ${i}`)
  await db.flush()
  for (let i = 50; i < 60; i++) await db.put(`key${String(i).padStart(2, '0')}`, `value ${i}`)
  return { db, entries: await db.iterator().all() }
}

describe('keys and values of the wrong type', () => {
  type Call = (db: any) => Promise<unknown>
  const circular: Record<string, unknown> = {}
  circular.self = circular
  const cases: Array<[string, Call]> = [
    ['put with a null key', async (db) => await db.put(null, 'v')],
    ['put with an undefined key', async (db) => await db.put(undefined, 'v')],
    ['put with a null value', async (db) => await db.put('k', null)],
    ['put with an undefined value', async (db) => await db.put('k', undefined)],
    ['get of null', async (db) => await db.get(null)],
    ['getMany with a null key', async (db) => await db.getMany(['key01', null])],
    ['del of undefined', async (db) => await db.del(undefined)],
    ['a batch with one null key among good ops', async (db) => await db.batch([{ type: 'put', key: 'new', value: 'v' }, { type: 'put', key: null, value: 'v' }])],
    ['a batch with one null value among good ops', async (db) => await db.batch([{ type: 'del', key: 'key01' }, { type: 'put', key: 'k', value: null }])],
    ['a batch op of an unknown type', async (db) => await db.batch([{ type: 'del', key: 'key02' }, { type: 'merge', key: 'k', value: 'v' }])],
    ['a batch op that is not an object', async (db) => await db.batch([{ type: 'del', key: 'key03' }, null])],
    ['a batch that is not an array', async (db) => await db.batch('put k v')],
    ['a chained batch with a null key', async (db) => await db.batch().put('new', 'v').put(null, 'v').write()],
    ['a value JSON cannot encode', async (db) => await db.put('k', circular, { valueEncoding: 'json' })],
    ['an unknown encoding', async (db) => await db.put('k', 'v', { valueEncoding: 'no-such-encoding' })],
    ['getMany of something not an array', async (db) => await db.getMany('key01')]
  ]

  it('each is refused with the error classic-level gives (a LEVEL_* code, or abstract-level\'s TypeError for a malformed call), and nothing stored changes', async () => {
    const { db, entries } = await populated(freshDir())
    const classic = new ClassicLevel<string, string>(freshDir())
    await classic.open()
    const seen: string[] = []
    for (const [what, call] of cases) {
      const got = await codeOf(call(db))
      const reference = await codeOf(call(classic))
      expect(got, what).not.toBe('resolved')
      expect(got, `${what}: classic-level gives ${reference}`).toBe(reference)
      expect(await db.iterator().all(), `${what} changed the database`).toEqual(entries)
      seen.push(got)
    }
    expect(seen.filter((c) => c.startsWith('LEVEL_')).length).toBeGreaterThan(cases.length / 2)
    await classic.close()
    await db.close()
  })
})

describe('values and keys over the size limits', () => {
  it('a 64 MiB value is LEVEL_INVALID_VALUE naming the limit, alone or in a batch; nothing is written', async () => {
    const dir = freshDir()
    const { db, entries } = await populated(dir)
    const huge = 'x'.repeat(64 * 1024 * 1024)
    const err = await db.put('huge', huge).then(() => null, (e: Error & { code?: string }) => e)
    expect(err?.code).toBe('LEVEL_INVALID_VALUE')
    expect(err?.message).toMatch(/67108864 bytes exceeds the limit of 33554432 bytes \(option maxValueSize\)/)
    expect(await codeOf(db.put('huge', Buffer.alloc(64 * 1024 * 1024), { valueEncoding: 'buffer' }))).toBe('LEVEL_INVALID_VALUE')
    expect(await codeOf(db.batch([{ type: 'put', key: 'small', value: 'ok' }, { type: 'del', key: 'key00' }, { type: 'put', key: 'huge', value: huge }]))).toBe('LEVEL_INVALID_VALUE')
    expect(await db.iterator().all()).toEqual(entries)
    await db.put('after', 'still writable')
    await db.close()
    const again = new LsmLevel<string, string>(dir)
    await again.open()
    expect(await again.get('huge')).toBeUndefined()
    expect(await again.get('small')).toBeUndefined()
    expect(await again.get('after')).toBe('still writable')
    await again.close()
  })

  it('a key over maxKeySize is LEVEL_INVALID_KEY; the limits are options', async () => {
    const { db, entries } = await populated(freshDir(), { maxKeySize: 100, maxValueSize: 1000 })
    expect(await codeOf(db.put('k'.repeat(101), 'v'))).toBe('LEVEL_INVALID_KEY')
    expect(await codeOf(db.del('k'.repeat(101)))).toBe('LEVEL_INVALID_KEY')
    expect(await codeOf(db.put('v', 'v'.repeat(1001)))).toBe('LEVEL_INVALID_VALUE')
    await db.put('k'.repeat(100), 'v'.repeat(1000))
    expect(await db.get('k'.repeat(100))).toBe('v'.repeat(1000))
    expect((await db.iterator().all()).filter(([k]) => k !== 'k'.repeat(100))).toEqual(entries)
    await db.close()
  })

  it('bad engine options are LEVEL_INVALID_VALUE naming the option', async () => {
    for (const [options, name] of [[{ writeBufferSize: -1 }, 'writeBufferSize'], [{ blockSize: 1.5 }, 'blockSize'], [{ walRecoveryMode: 'sometimes' }, 'walRecoveryMode'], [{ bloomBitsPerKey: 100 }, 'bloomBitsPerKey']] as const) {
      const db = new LsmLevel(freshDir(), options as object)
      const err = await db.open().then(() => null, (e: unknown) => e)
      const cause = rootCause(err)
      expect(cause.code).toBe('LEVEL_INVALID_VALUE')
      expect(cause.message).toContain(name)
    }
  })
})

describe('a location that is not a usable directory', () => {
  it('a location that is a file: LEVEL_INVALID_VALUE naming it, the file untouched', async () => {
    const file = join(root, 'a-file')
    nodeFs.writeFileSync(file, 'precious')
    const err = await new LsmLevel(file).open().then(() => null, (e: unknown) => e)
    expect((err as { code?: string }).code).toBe('LEVEL_DATABASE_NOT_OPEN')
    const cause = rootCause(err)
    expect(cause.code).toBe('LEVEL_INVALID_VALUE')
    expect(cause.message).toContain(`${file} exists and is not a directory`)
    expect(nodeFs.readFileSync(file, 'utf8')).toBe('precious')
  })

  it('a directory without permission (chmod 000): open fails clearly, the data is intact once permission is back', async () => {
    const dir = freshDir()
    const { db, entries } = await populated(dir)
    await db.close()
    const before = snapshotFiles(dir)
    nodeFs.chmodSync(dir, 0o000)
    const attempt = new LsmLevel(dir)
    let err: unknown = null
    try {
      err = await attempt.open().then(() => null, (e: unknown) => e)
    } finally {
      nodeFs.chmodSync(dir, 0o755)
    }
    // Root ignores permissions (tests run as root here), so only an unprivileged run sees the refusal; the
    // EACCES tests below show it on any account. The data must be intact either way.
    if (process.getuid?.() !== 0) {
      const cause = rootCause(err)
      expect(cause.code).toBe('LEVEL_IO_ERROR')
      expect(cause.message).toContain('EACCES')
      expect(snapshotFiles(dir)).toEqual(before)
    } else {
      await attempt.close()
    }
    const again = new LsmLevel<string, string>(dir)
    await again.open()
    expect(await again.iterator().all()).toEqual(entries)
    await again.close()
  })

  for (const op of ['lock', 'readdir', 'create'] as const) {
    it(`EACCES on ${op} at open: LEVEL_IO_ERROR naming EACCES and the file, not LEVEL_LOCKED; the data is intact`, async () => {
      const fs = new FaultInjectingFileSystem(new MemoryFileSystem())
      const { db, entries } = await populated('/db', { fs })
      await db.close()
      fs.inject({ op, code: 'EACCES' })
      const err = await new LsmLevel('/db', { fs }).open().then(() => null, (e: unknown) => e)
      const cause = rootCause(err) as { code?: string, message: string, syscallCode?: string }
      expect(cause.code, cause.message).toBe('LEVEL_IO_ERROR')
      expect(cause.syscallCode).toBe('EACCES')
      expect(cause.message).toMatch(/\/db.*EACCES.*permissions/)
      fs.clear()
      const again = new LsmLevel<string, string>('/db', { fs })
      await again.open()
      expect(await again.iterator().all()).toEqual(entries)
      await again.close()
    })
  }
})

describe('a database directory from a future format version', () => {
  it('a MANIFEST of format version 2 is LEVEL_UNSUPPORTED_FORMAT naming it; no file is changed', async () => {
    const dir = freshDir()
    const { db } = await populated(dir)
    await db.close()
    const path = manifest(dir)
    const file = new RealFileSystem().openReadable(path)
    const edits = [...readLog(file)].map((r) => decodeEdit(r.data, path, r.offset))
    file.close()
    expect(edits[0].formatVersion).toBe(1)
    edits[0].formatVersion = 2
    const out = new RealFileSystem().openWritable(path)
    const writer = new LogWriter(out)
    for (const e of edits) writer.addRecord(encodeEdit(e))
    out.close()
    const before = snapshotFiles(dir)
    const err = await new LsmLevel(dir).open().then(() => null, (e: unknown) => e)
    const cause = rootCause(err) as { code?: string, message: string, file?: string }
    expect(cause.code).toBe('LEVEL_UNSUPPORTED_FORMAT')
    expect(cause.file).toBe(path)
    expect(cause.message).toMatch(/format version 2.*upgrade lsm-level/)
    expect(snapshotFiles(dir)).toEqual(before)
  })

  it('an SSTable of format version 3: reads that need it are LEVEL_UNSUPPORTED_FORMAT naming it, other data reads fine, the table is kept', async () => {
    const dir = freshDir()
    const { db, entries } = await populated(dir)
    await db.close()
    const [table] = liveTables(dir)
    const bytes = nodeFs.readFileSync(table)
    const footer = bytes.length - 64
    bytes.writeUInt32LE(3, footer + 48)
    bytes.writeUInt32LE(maskCrc(crc32c(bytes.subarray(footer, footer + 52))), footer + 52)
    nodeFs.writeFileSync(table, bytes)
    const again = new LsmLevel<string, string>(dir)
    await again.open()
    const err = await again.get('key10').then(() => null, (e: unknown) => e) as { code?: string, file?: string, message: string }
    expect(err.code).toBe('LEVEL_UNSUPPORTED_FORMAT')
    expect(err.file).toBe(table)
    expect(await codeOf(again.iterator().all())).toBe('LEVEL_UNSUPPORTED_FORMAT')
    // The keys still in the log are served.
    expect(await again.get('key55')).toBe(entries.find(([k]) => k === 'key55')![1])
    // A compaction that must read it (new versions of its keys above it) fails the same way instead of dropping it.
    await again.batch(entries.slice(0, 50).map(([key]) => ({ type: 'put' as const, key, value: 'newer' })))
    expect(await codeOf(again.compactRange('key00', 'key99'))).toBe('LEVEL_UNSUPPORTED_FORMAT')
    await again.close()
    expect(nodeFs.readFileSync(table).equals(bytes)).toBe(true)
  })
})
