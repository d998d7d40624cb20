// I/O errors: ENOSPC and EIO injected by FaultInjectingFileSystem into every write path of the engine.
import { describe, it, expect } from 'vitest'
import type { AbstractPutOptions } from 'abstract-level'
import { LsmLevel, MemoryFileSystem, FaultInjectingFileSystem } from 'lsm-level'
import type { FaultRule } from '../../../engine/src/fs/fault.js'
import { faultRuns } from './fixtures/io-errors.js'
import { TINY } from './fixtures/history.mjs'

/**
 * A database on a fault-injecting memory disk holding keys k000..k199: the even ones in tables, the odd ones
 * (over the same range, so a flush and a compaction have work) in the memtable and the log.
 */
async function seeded (): Promise<{ fs: FaultInjectingFileSystem, db: LsmLevel<string, string>, expected: Map<string, string> }> {
  const fs = new FaultInjectingFileSystem(new MemoryFileSystem())
  const db = new LsmLevel<string, string>('/db', { fs, ...TINY, writeBufferSize: 64 * 1024 })
  await db.open()
  const expected = new Map<string, string>()
  for (const parity of [0, 1]) {
    for (let i = parity; i < 200; i += 2) {
      const key = `k${String(i).padStart(3, '0')}`
      expected.set(key, `value ${i} ` + 'x'.repeat(i % 100))
      await db.put(key, expected.get(key)!)
    }
    if (parity === 0) await db.flush()
  }
  return { fs, db, expected: new Map([...expected.entries()].sort()) }
}

async function rejection (p: Promise<unknown>): Promise<{ code?: string, message: string, syscallCode?: string, cause?: { code?: string } }> {
  return await p.then(() => { throw new Error('expected a rejection') }, (e: unknown) => e as never)
}

/** After a fault: the named call failed clearly, writes stay refused, reads answer everything acknowledged; after the fault is lifted a reopen has it all. */
async function checkAfterFault (fs: FaultInjectingFileSystem, db: LsmLevel<string, string>, expected: Map<string, string>, err: { code?: string, message: string, syscallCode?: string }, rule: FaultRule, file: RegExp): Promise<void> {
  expect(err.code, err.message).toBe('LEVEL_IO_ERROR')
  expect(err.syscallCode).toBe(rule.code)
  expect(err.message).toMatch(file)
  const later = await rejection(db.batch([{ type: 'put', key: 'later', value: 'x' }, { type: 'del', key: 'k000' }]))
  expect(later.code).toBe('LEVEL_IO_ERROR')
  expect(later.message).toBe(err.message)
  expect(await rejection(db.del('k001'))).toBe(later)
  expect(db.getProperty('lsm.background-error')).toBe(err.message)
  expect(await db.getMany([...expected.keys()])).toEqual([...expected.values()])
  expect(await db.iterator().all()).toEqual([...expected.entries()])
  await db.close()
  fs.clear()
  const again = new LsmLevel<string, string>('/db', { fs, ...TINY, walRecoveryMode: 'absolute-consistency' })
  await again.open()
  for (const [k, v] of expected) expect(await again.get(k)).toBe(v)
  expect(await again.get('later')).toBeUndefined()
  await again.put('later', 'works')
  expect(await again.get('later')).toBe('works')
  await again.close()
}

describe('I/O errors on the write path, in flushes and in compactions', () => {
  for (const code of ['ENOSPC', 'EIO'] as const) {
    it(`${code} appending to the commit log: that write rejects, the rest follows`, async () => {
      const { fs, db, expected } = await seeded()
      // The second append of a record: a fragment header went, its payload did not.
      const rule: FaultRule = { op: 'append', path: /\.log$/, code, afterCalls: 0 }
      fs.inject(rule)
      const err = await rejection(db.put('failing', 'x'))
      await checkAfterFault(fs, db, expected, err, rule, /\/db\/\d+\.log/)
    })
  }

  it('EIO on fsync of the commit log: a sync write rejects (and is not visible), the rest follows', async () => {
    const { fs, db, expected } = await seeded()
    const rule: FaultRule = { op: 'sync', path: /\.log$/, code: 'EIO' }
    fs.inject(rule)
    const err = await rejection(db.put('failing', 'x', { sync: true } as AbstractPutOptions<string, string>))
    expect(await db.get('failing')).toBeUndefined()
    await checkAfterFault(fs, db, expected, err, rule, /\/db\/\d+\.log/)
  })

  it('ENOSPC writing a table in a flush: flush() rejects', async () => {
    const { fs, db, expected } = await seeded()
    const rule: FaultRule = { op: 'append', path: /\.sst$/, code: 'ENOSPC', afterCalls: 2 }
    fs.inject(rule)
    const err = await rejection(db.flush())
    await checkAfterFault(fs, db, expected, err, rule, /\/db\/\d+\.sst/)
  })

  it('EIO on fsync of a compaction output: compactRange() rejects', async () => {
    const { fs, db, expected } = await seeded()
    await db.flush()
    const rule: FaultRule = { op: 'sync', path: /\.sst$/, code: 'EIO' }
    fs.inject(rule)
    const err = await rejection(db.compactRange('k000', 'k199'))
    await checkAfterFault(fs, db, expected, err, rule, /\/db/)
  })

  it('EIO on fsync of the MANIFEST edit of a compaction: its outputs are kept, since the edit may have reached the disk', async () => {
    const { fs, db, expected } = await seeded()
    await db.flush()
    const rule: FaultRule = { op: 'sync', path: /MANIFEST/, code: 'EIO' }
    fs.inject(rule)
    const err = await rejection(db.compactRange('k000', 'k199'))
    await checkAfterFault(fs, db, expected, err, rule, /MANIFEST-\d+/)
  })

  it('ENOSPC writing the MANIFEST edit of a flush', async () => {
    const { fs, db, expected } = await seeded()
    const rule: FaultRule = { op: 'append', path: /MANIFEST/, code: 'ENOSPC' }
    fs.inject(rule)
    const err = await rejection(db.flush())
    await checkAfterFault(fs, db, expected, err, rule, /MANIFEST-\d+/)
  })

  it('EIO syncing the directory after a new table', async () => {
    const { fs, db, expected } = await seeded()
    // The first directory sync of a flush makes the new commit log's entry durable; the second, the table's.
    const rule: FaultRule = { op: 'syncDir', code: 'EIO', afterCalls: 1 }
    fs.inject(rule)
    const err = await rejection(db.flush())
    expect(err.message).toContain('sync directory failed on /db')
    await checkAfterFault(fs, db, expected, err, rule, /\/db/)
  })

  it('ENOSPC renaming the new CURRENT into place at open: open rejects, the database is untouched', async () => {
    const { fs, db, expected } = await seeded()
    await db.close()
    const rule: FaultRule = { op: 'rename', path: /CURRENT/, code: 'ENOSPC' }
    fs.inject(rule)
    const failing = new LsmLevel<string, string>('/db', { fs, ...TINY })
    const err = await rejection(failing.open())
    expect(err.code).toBe('LEVEL_DATABASE_NOT_OPEN')
    expect(err.cause?.code).toBe('LEVEL_IO_ERROR')
    expect((err.cause as Error).message).toMatch(/CURRENT.*ENOSPC/)
    fs.clear()
    const again = new LsmLevel<string, string>('/db', { fs, ...TINY })
    await again.open()
    expect(await again.iterator().all()).toEqual([...expected.entries()])
    await again.close()
  })

  it('EIO reading a table: that read rejects with LEVEL_IO_ERROR naming the table; writes are not stopped', async () => {
    const { fs, db, expected } = await seeded()
    await db.compactRange('k000', 'k199')
    await db.close()
    const reopened = new LsmLevel<string, string>('/db', { fs, ...TINY })
    await reopened.open()
    fs.inject({ op: 'read', path: /\.sst$/, code: 'EIO' })
    const err = await rejection(reopened.get('k050'))
    expect(err.code).toBe('LEVEL_IO_ERROR')
    expect(err.message).toMatch(/\/db\/\d+\.sst.*EIO/)
    await reopened.put('still', 'writable')
    fs.clear()
    expect(await reopened.get('k050')).toBe(expected.get('k050'))
    expect(await reopened.get('still')).toBe('writable')
    await reopened.close()
  })
})

describe('an append that fails in the middle of a log record', () => {
  it('leaves no part of the record in the log: the database reopens even with absolute-consistency', async () => {
    for (let afterCalls = 0; afterCalls < 4; afterCalls++) {
      const fs = new FaultInjectingFileSystem(new MemoryFileSystem())
      const db = new LsmLevel<string, string>('/db', { fs, walRecoveryMode: 'absolute-consistency' })
      await db.open()
      await db.put('before', 'fault')
      fs.inject({ op: 'append', path: /\.log$/, code: 'EIO', afterCalls })
      let rejected = false
      for (let i = 0; i < 8 && !rejected; i++) rejected = await db.put(`during${i}`, 'x'.repeat(20_000 * i)).then(() => false, () => true)
      expect(rejected).toBe(true)
      await db.close()
      fs.clear()
      const again = new LsmLevel<string, string>('/db', { fs, walRecoveryMode: 'absolute-consistency' })
      await again.open()
      expect(await again.get('before')).toBe('fault')
      await again.close()
    }
  })
})

describe('random faults (one per run, over a database that carries on between runs)', () => {
  for (const walRecoveryMode of ['tolerate-corrupted-tail', 'absolute-consistency'] as const) {
    it(`every fault surfaces as LEVEL_IO_ERROR, sticks, spares reads, and loses nothing acknowledged (${walRecoveryMode})`, async () => {
      const reports = await faultRuns({ runs: 40, seed: walRecoveryMode === 'absolute-consistency' ? 4 : 3, roundsPerRun: 200, walRecoveryMode })
      const bySurface = new Map<string, number>()
      for (const r of reports) bySurface.set(r.surfaced, (bySurface.get(r.surfaced) ?? 0) + 1)
      expect(reports).toHaveLength(40)
      for (const where of ['open', 'write']) expect(bySurface.get(where) ?? 0).toBeGreaterThan(0)
      expect((bySurface.get('flush') ?? 0) + (bySurface.get('compactRange') ?? 0)).toBeGreaterThan(0)
    }, 60_000)
  }
})
