import { describe, it, expect } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import * as nodeFs from 'node:fs'
import * as path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { RealFileSystem, WRITE_BUFFER_FLUSH_THRESHOLD } from '../../../engine/src/fs/real.js'
import { tempDirPerTest } from '../../support/temp-dir.js'

/** Child processes run the built engine (npm test builds first), as the other multi-process tests do. */
const DIST_FS = fileURLToPath(new URL('../../../engine/dist/fs/real.js', import.meta.url))

const testDir = tempDirPerTest('lsm-fs')

/** Starts a node process that takes the lock and holds it; resolves once it holds it. */
async function childHoldingLock (lockPath: string): Promise<ChildProcess> {
  const script = `
    const { RealFileSystem } = await import(${JSON.stringify(pathToFileURL(DIST_FS).href)})
    new RealFileSystem().lock(process.argv[1])
    process.stdout.write('locked\\n')
    setTimeout(() => {}, 60000)`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, lockPath], { stdio: ['ignore', 'pipe', 'pipe'] })
  await new Promise<void>((resolve, reject) => {
    let err = ''
    const timer = setTimeout(() => reject(new Error(`child did not take the lock: ${err}`)), 15000)
    child.stderr!.on('data', (d) => { err += String(d) })
    child.stdout!.on('data', (d) => { if (String(d).includes('locked')) { clearTimeout(timer); resolve() } })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`child exited ${code}: ${err}`)) })
  })
  return child
}

async function kill (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
}

describe('RealFileSystem', () => {
  it('writes, flushes, syncs, reads positionally; a short read is corruption', async () => {
    const fs = new RealFileSystem()
    const p = path.join(testDir(), 'a.log')
    const f = fs.openWritable(p)
    f.append(Buffer.from('hello '))
    expect(f.size).toBe(6)
    expect(fs.stat(p).size).toBe(0)
    f.flush()
    expect(fs.stat(p).size).toBe(6)
    f.append(Buffer.from('world'))
    await f.sync()
    f.append(Buffer.from('!'))
    f.syncSync()
    f.close()
    expect(fs.readFile(p).toString()).toBe('hello world!')
    const r = fs.openReadable(p)
    expect(r.size).toBe(12)
    expect(r.read(6, 5).toString()).toBe('world')
    expect(r.read(0, 0).length).toBe(0)
    expect(() => r.read(10, 5)).toThrow(expect.objectContaining({ code: 'LEVEL_CORRUPTION', file: p, offset: 12 }))
    r.close()
    expect(() => f.append(Buffer.from('x'))).toThrow(expect.objectContaining({ code: 'EBADF' }))
  })

  it('writes large appends through without holding them in memory, in order', () => {
    const fs = new RealFileSystem()
    const p = path.join(testDir(), 'big')
    const f = fs.openWritable(p)
    const small = Buffer.alloc(1000, 1)
    const big = Buffer.alloc(WRITE_BUFFER_FLUSH_THRESHOLD + 10, 2)
    f.append(small)
    f.append(big)
    expect(fs.stat(p).size).toBe(small.length + big.length) // went through to the OS
    f.append(small)
    expect(f.size).toBe(2 * small.length + big.length)
    f.close()
    const all = fs.readFile(p)
    expect(all.length).toBe(2 * small.length + big.length)
    expect(all[999]).toBe(1)
    expect(all[1000]).toBe(2)
    expect(all[all.length - 1]).toBe(1)
  })

  it('renames, unlinks, lists, syncs directories and removes trees', async () => {
    const fs = new RealFileSystem()
    const sub = path.join(testDir(), 'x', 'y')
    fs.mkdirp(sub)
    fs.mkdirp(sub)
    const f = fs.openWritable(path.join(sub, 'tmp'))
    f.append(Buffer.from('1'))
    f.close()
    fs.rename(path.join(sub, 'tmp'), path.join(sub, 'CURRENT'))
    await fs.syncDir(sub)
    expect(fs.readdir(sub)).toEqual(['CURRENT'])
    expect(fs.exists(path.join(sub, 'tmp'))).toBe(false)
    fs.unlink(path.join(sub, 'CURRENT'))
    expect(fs.readdir(sub)).toEqual([])
    expect(() => fs.readdir(path.join(testDir(), 'missing'))).toThrow(expect.objectContaining({ code: 'ENOENT' }))
    expect(fs.stat(sub).isDirectory).toBe(true)
    fs.removeDir(path.join(testDir(), 'x'))
    expect(fs.exists(path.join(testDir(), 'x'))).toBe(false)
    fs.removeDir(path.join(testDir(), 'x'))
  })

  it('lock: a second lock in this process fails LEVEL_LOCKED until released', () => {
    const lockPath = path.join(testDir(), 'LOCK')
    const a = new RealFileSystem().lock(lockPath)
    expect(() => new RealFileSystem().lock(lockPath)).toThrow(expect.objectContaining({ code: 'LEVEL_LOCKED' }))
    expect(() => new RealFileSystem().lock(path.join(testDir(), '.', 'LOCK'))).toThrow(expect.objectContaining({ code: 'LEVEL_LOCKED' }))
    expect(JSON.parse(nodeFs.readFileSync(lockPath, 'utf8')).pid).toBe(process.pid)
    a.release()
    a.release()
    expect(nodeFs.existsSync(lockPath)).toBe(false)
    const b = new RealFileSystem().lock(lockPath)
    b.release()
  })

  it('lock: a lock held by another live process fails; once that process dies its stale lock is taken over', async () => {
    const lockPath = path.join(testDir(), 'LOCK')
    const child = await childHoldingLock(lockPath)
    try {
      let caught: any
      try { new RealFileSystem().lock(lockPath) } catch (err) { caught = err }
      expect(caught?.code).toBe('LEVEL_LOCKED')
      expect(caught.message).toContain(String(child.pid))
      expect(JSON.parse(nodeFs.readFileSync(lockPath, 'utf8')).pid).toBe(child.pid)
    } finally {
      await kill(child)
    }
    // The dead child's LOCK is still there, stale.
    expect(nodeFs.existsSync(lockPath)).toBe(true)
    const l = new RealFileSystem().lock(lockPath)
    expect(JSON.parse(nodeFs.readFileSync(lockPath, 'utf8')).pid).toBe(process.pid)
    l.release()
    expect(nodeFs.readdirSync(testDir())).toEqual([]) // no temp files left behind
  })

  it('lock: a LOCK naming a reused pid (live pid, other start time) or holding garbage is stale', () => {
    const lockPath = path.join(testDir(), 'LOCK')
    for (const content of [JSON.stringify({ pid: process.ppid, start: '1' }), 'garbage', '']) {
      nodeFs.writeFileSync(lockPath, content)
      const l = new RealFileSystem().lock(lockPath)
      expect(JSON.parse(nodeFs.readFileSync(lockPath, 'utf8')).pid).toBe(process.pid)
      l.release()
    }
  })
})
