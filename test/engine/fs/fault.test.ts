import { describe, it, expect } from 'vitest'
import { MemoryFileSystem } from '../../../engine/src/fs/memory.js'
import { FaultInjectingFileSystem } from '../../../engine/src/fs/fault.js'
import { asIoError } from '../../../engine/src/errors.js'
import { TableBuilder } from '../../../engine/src/sstable/table-builder.js'
import { Table } from '../../../engine/src/sstable/table.js'
import { LogWriter } from '../../../engine/src/wal/log-writer.js'
import { ik } from '../sstable/sstable-helpers.js'

function setup (): { mem: MemoryFileSystem, fs: FaultInjectingFileSystem } {
  const mem = new MemoryFileSystem()
  mem.mkdirp('/db')
  return { mem, fs: new FaultInjectingFileSystem(mem) }
}

describe('FaultInjectingFileSystem', () => {
  it('fails the chosen op on matching paths only, with a node-style code', () => {
    const { fs } = setup()
    fs.inject({ op: 'append', path: /\.log$/, code: 'ENOSPC' })
    const log = fs.openWritable('/db/000001.log')
    const other = fs.openWritable('/db/000002.sst')
    other.append(Buffer.from('fine'))
    expect(() => log.append(Buffer.from('x'))).toThrow(expect.objectContaining({ code: 'ENOSPC', errno: -28, path: '/db/000001.log' }))
    expect(log.size).toBe(0) // nothing was appended
    expect(fs.calls.append).toBe(2)
    expect(fs.calls.open).toBe(2)
    expect(fs.injected).toBe(1)
    fs.clear()
    log.append(Buffer.from('x'))
    expect(log.size).toBe(1)
  })

  it('honours afterCalls and times', () => {
    const { fs } = setup()
    fs.inject({ op: 'flush', code: 'EIO', afterCalls: 2, times: 1 })
    const f = fs.openWritable('/db/f')
    f.append(Buffer.from('a'))
    f.flush()
    f.flush()
    expect(() => f.flush()).toThrow(expect.objectContaining({ code: 'EIO' }))
    f.flush()
    expect(fs.calls.flush).toBe(4)
  })

  it('rejects async ops and throws sync ones', async () => {
    const { fs } = setup()
    const f = fs.openWritable('/db/f')
    fs.inject({ op: 'sync', code: 'EIO' })
    await expect(f.sync()).rejects.toMatchObject({ code: 'EIO' })
    expect(() => f.syncSync()).toThrow(expect.objectContaining({ code: 'EIO' }))
    fs.inject({ op: 'syncDir', code: 'EIO' })
    await expect(fs.syncDir('/db')).rejects.toMatchObject({ code: 'EIO' })
    fs.inject({ op: 'rename', path: /CURRENT/, code: 'ENOSPC' })
    expect(() => fs.rename('/db/f', '/db/CURRENT')).toThrow(expect.objectContaining({ code: 'ENOSPC' }))
    fs.inject({ op: 'unlink', code: 'EIO' })
    expect(() => fs.unlink('/db/f')).toThrow(expect.objectContaining({ code: 'EIO' }))
    fs.inject({ op: 'readdir', code: 'EIO' })
    expect(() => fs.readdir('/db')).toThrow(expect.objectContaining({ code: 'EIO' }))
    fs.inject({ op: 'read', code: 'EIO' })
    expect(() => fs.readFile('/db/f')).toThrow(expect.objectContaining({ code: 'EIO' }))
    fs.inject({ op: 'open', path: /new/, code: 'ENOSPC' })
    expect(() => fs.openWritable('/db/new')).toThrow(expect.objectContaining({ code: 'ENOSPC' }))
    expect(() => fs.openReadable('/db/new')).toThrow(expect.objectContaining({ code: 'ENOSPC' }))
    fs.clear()
    await fs.syncDir('/db')
    expect(fs.readdir('/db')).toEqual(['f'])
  })

  it('faults surface through the format layer as errors that name the op, file and errno', () => {
    const { fs } = setup()
    // Writing a table: ENOSPC from the first flush propagates out of finish().
    const f = fs.openWritable('/db/000009.sst')
    const b = new TableBuilder(f, { blockSize: 64, restartInterval: 4, bitsPerKey: 10, fileName: '/db/000009.sst' })
    for (let i = 0; i < 100; i++) b.add(ik(`k${String(i).padStart(3, '0')}`, 1), Buffer.from('v'))
    fs.inject({ op: 'flush', code: 'ENOSPC', times: 1 })
    let caught: unknown
    try { b.finish() } catch (err) { caught = err }
    expect(caught).toMatchObject({ code: 'ENOSPC' })
    const wrapped = asIoError(caught, { file: '/db/000009.sst', op: 'write table' })
    expect(wrapped).toMatchObject({ code: 'LEVEL_IO_ERROR' })
    expect(wrapped.message).toContain('ENOSPC')
    expect(wrapped.message).toContain('/db/000009.sst')
    expect(wrapped.message).toContain('write table')
    expect(wrapped.message).toContain('free disk space')
    // An error without an errno is no I/O failure but a fault in the engine's code: it is not blamed on the disk.
    const bug = asIoError(new TypeError('builder.add is not a function'), { file: '/db/000009.sst', op: 'write table' })
    expect(bug).toMatchObject({ code: 'LEVEL_IO_ERROR' })
    expect(bug.message).toContain('TypeError (builder.add is not a function)')
    expect(bug.message).toContain('fault in lsm-level itself')
    expect(bug.message).not.toContain('check the path')

    // A good table, then EIO on reads: Table.open and get report LEVEL_IO_ERROR.
    const g = fs.openWritable('/db/000010.sst')
    const b2 = new TableBuilder(g, { blockSize: 64, restartInterval: 4, bitsPerKey: 10, fileName: '/db/000010.sst' })
    for (let i = 0; i < 100; i++) b2.add(ik(`k${String(i).padStart(3, '0')}`, 1), Buffer.from('v'))
    b2.finish()
    g.close()
    fs.inject({ op: 'read', code: 'EIO', afterCalls: 4 })
    const t = Table.open(fs.openReadable('/db/000010.sst'), { fileNumber: 10 })
    expect(() => t.get(Buffer.from('k050'), 5)).toThrow(expect.objectContaining({ code: 'LEVEL_IO_ERROR', message: expect.stringMatching(/EIO/) }))
    fs.clear()
    expect(t.get(Buffer.from('k050'), 5)?.value.toString()).toBe('v')

    // The log writer leaves failed appends to the caller; a fault on a WAL path fails addRecord.
    const w = fs.openWritable('/db/000011.log')
    fs.inject({ op: 'append', path: /\.log$/, code: 'ENOSPC' })
    expect(() => new LogWriter(w).addRecord(Buffer.from('rec'))).toThrow(expect.objectContaining({ code: 'ENOSPC' }))
  })
})
