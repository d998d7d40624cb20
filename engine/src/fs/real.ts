/** The real file system: node:fs, with buffered appends, fdatasync on the thread pool and a LOCK file that detects stale owners. */
import * as nodeFs from 'node:fs'
import { SpareBuffers } from '../spare-buffers.js'
import * as path from 'node:path'
import { corruption, locked } from '../errors.js'
import type { FileLock, FileSystem, ReadableFile, WritableFile } from './file-system.js'

/**
 * Above this many buffered bytes append() writes through to the OS: a table being built must not sit in
 * memory whole, and bytes that reached the OS early change nothing about what was promised (only sync does).
 */
export const WRITE_BUFFER_FLUSH_THRESHOLD = 1024 * 1024

/**
 * Write buffers of closed files, for the next ones. Each holds WRITE_BUFFER_FLUSH_THRESHOLD bytes, so a
 * file's buffer never grows (growing one by doubling would leave its smaller copies as garbage per file).
 * Pages of a buffer that no file has filled are never touched, so never resident.
 */
const writeBuffers = new SpareBuffers(WRITE_BUFFER_FLUSH_THRESHOLD, 4)

class RealWritableFile implements WritableFile {
  readonly path: string
  #fd: number
  #buf: Buffer = writeBuffers.take()
  #buffered = 0
  #flushedSize = 0
  #closed = false

  constructor (filePath: string) {
    this.path = filePath
    this.#fd = nodeFs.openSync(filePath, 'w')
  }

  get size (): number { return this.#flushedSize + this.#buffered }

  append (data: Uint8Array): void {
    this.#checkOpen()
    const n = data.length
    if (this.#buffered + n > this.#buf.length) {
      if (this.#buffered + n > WRITE_BUFFER_FLUSH_THRESHOLD) {
        this.flush()
        if (n >= WRITE_BUFFER_FLUSH_THRESHOLD) {
          this.#writeThrough(data)
          return
        }
      }
      if (this.#buffered + n > this.#buf.length) {
        let cap = this.#buf.length * 2
        while (cap < this.#buffered + n) cap *= 2
        const next = Buffer.allocUnsafe(cap)
        this.#buf.copy(next, 0, 0, this.#buffered)
        this.#buf = next
      }
    }
    this.#buf.set(data, this.#buffered)
    this.#buffered += n
  }

  flush (): void {
    this.#checkOpen()
    if (this.#buffered === 0) return
    const n = this.#buffered
    let done = 0
    try {
      while (done < n) done += nodeFs.writeSync(this.#fd, this.#buf, done, n - done, null)
    } finally {
      // After a failed write (ENOSPC mid-way) keep only the unwritten rest, so a retry neither repeats nor skips bytes.
      this.#flushedSize += done
      if (done > 0 && done < n) this.#buf.copy(this.#buf, 0, done, n)
      this.#buffered = n - done
    }
  }

  /** Writes data straight to the OS (large appends); on failure the unwritten rest is buffered for a retry. */
  #writeThrough (data: Uint8Array): void {
    let done = 0
    try {
      while (done < data.length) done += nodeFs.writeSync(this.#fd, data, done, data.length - done, null)
    } catch (err) {
      this.#flushedSize += done
      const rest = data.subarray(done)
      if (rest.length > this.#buf.length) this.#buf = Buffer.allocUnsafe(rest.length)
      this.#buf.set(rest, 0)
      this.#buffered = rest.length
      throw err
    }
    this.#flushedSize += data.length
  }

  async sync (): Promise<void> {
    this.flush()
    const fd = this.#fd
    await new Promise<void>((resolve, reject) => {
      nodeFs.fdatasync(fd, (err) => { if (err != null) reject(err); else resolve() })
    })
  }

  syncSync (): void {
    this.flush()
    nodeFs.fdatasyncSync(this.#fd)
  }

  close (): void {
    if (this.#closed) return
    try {
      this.flush()
    } finally {
      this.#closed = true
      nodeFs.closeSync(this.#fd)
      // A buffer still holding unwritten bytes (a failed flush) is not reused.
      if (this.#buffered === 0) writeBuffers.give(this.#buf)
    }
  }

  #checkOpen (): void {
    if (this.#closed) throw Object.assign(new Error(`file is closed: ${this.path}`), { code: 'EBADF' })
  }
}

class RealReadableFile implements ReadableFile {
  readonly path: string
  readonly size: number
  #fd: number

  constructor (filePath: string) {
    this.path = filePath
    this.#fd = nodeFs.openSync(filePath, 'r')
    try {
      this.size = nodeFs.fstatSync(this.#fd).size
    } catch (err) {
      nodeFs.closeSync(this.#fd)
      throw err
    }
  }

  read (offset: number, length: number, into?: Buffer): Buffer {
    const buf = into === undefined ? Buffer.allocUnsafe(length) : into
    let done = 0
    while (done < length) {
      const n = nodeFs.readSync(this.#fd, buf, done, length - done, offset + done)
      if (n === 0) {
        throw corruption(`short read: wanted ${length} bytes, file ends after ${done}`, { file: this.path, offset: offset + done })
      }
      done += n
    }
    return buf.length === length ? buf : buf.subarray(0, length)
  }

  close (): void {
    nodeFs.closeSync(this.#fd)
  }
}

/** Lock files held by this process (across all RealFileSystem instances): the OS lock file alone cannot tell "us" from "stale". */
const heldLocks = new Set<string>()

/** What a LOCK file says about its holder. */
interface LockOwner { pid: number, start: string | null }

/** The start time of a process (Linux: clock ticks since boot, field 22 of /proc/<pid>/stat), or null where unknown. */
function processStartTime (pid: number | 'self'): string | null | undefined {
  let stat: string
  try {
    stat = nodeFs.readFileSync(`/proc/${pid}/stat`, 'latin1')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      // No /proc at all: start times are unknown here. A missing /proc/<pid> on Linux means the process is gone.
      return nodeFs.existsSync('/proc/self/stat') ? undefined : null
    }
    return null
  }
  // The command name (field 2) may contain spaces and parentheses: fields are counted after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return fields[19] ?? null
}

/** True iff the owner recorded in a LOCK file is a live process (the same start, not a reused pid). */
function ownerIsAlive (owner: LockOwner): boolean {
  const start = processStartTime(owner.pid)
  if (start === undefined) return false // Linux, no such pid
  if (start !== null && owner.start !== null) return start === owner.start
  try {
    process.kill(owner.pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function parseOwner (text: string): LockOwner | undefined {
  try {
    const o = JSON.parse(text) as { pid?: unknown, start?: unknown }
    if (typeof o.pid === 'number' && Number.isInteger(o.pid) && o.pid > 0) {
      return { pid: o.pid, start: typeof o.start === 'string' ? o.start : null }
    }
  } catch {}
  return undefined
}

function readOwnerText (lockPath: string): string | undefined {
  try {
    return nodeFs.readFileSync(lockPath, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/** Creates lockPath holding `content`, atomically (never visible empty); false if it already exists. */
function createExclusive (lockPath: string, content: string): boolean {
  const tmp = `${lockPath}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  nodeFs.writeFileSync(tmp, content)
  try {
    nodeFs.linkSync(tmp, lockPath)
    return true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return false
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err
    // No hard links here: O_EXCL create (briefly visible empty; a reader then treats it as stale only if still empty later).
    try {
      nodeFs.writeFileSync(lockPath, content, { flag: 'wx' })
      return true
    } catch (err2) {
      if ((err2 as NodeJS.ErrnoException).code === 'EEXIST') return false
      throw err2
    }
  } finally {
    try { nodeFs.unlinkSync(tmp) } catch {}
  }
}

/** Moves a stale LOCK aside iff it still holds `staleText` (another process may have taken it over meanwhile). */
function removeStale (lockPath: string, staleText: string): boolean {
  const aside = `${lockPath}.${process.pid}.${Math.random().toString(36).slice(2)}.stale`
  try {
    nodeFs.renameSync(lockPath, aside)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true // already gone
    throw err
  }
  const moved = readOwnerText(aside)
  if (moved === staleText) {
    nodeFs.unlinkSync(aside)
    return true
  }
  // We moved a fresh lock someone just created: put it back unless yet another one appeared.
  try { nodeFs.linkSync(aside, lockPath) } catch {}
  nodeFs.unlinkSync(aside)
  return false
}

/** Tries to take a stale lock over this many times before giving up (bounded: two processes may race for it). */
const LOCK_ATTEMPTS = 3

/** The default FileSystem: node:fs, synchronous for small calls, fdatasync on the thread pool. */
export class RealFileSystem implements FileSystem {
  mkdirp (dir: string): void {
    nodeFs.mkdirSync(dir, { recursive: true })
  }

  readdir (dir: string): string[] {
    return nodeFs.readdirSync(dir)
  }

  exists (p: string): boolean {
    return nodeFs.existsSync(p)
  }

  stat (p: string): { size: number, isDirectory: boolean } {
    const s = nodeFs.statSync(p)
    return { size: s.size, isDirectory: s.isDirectory() }
  }

  readFile (p: string): Buffer {
    return nodeFs.readFileSync(p)
  }

  openWritable (p: string): WritableFile {
    return new RealWritableFile(p)
  }

  openReadable (p: string): ReadableFile {
    return new RealReadableFile(p)
  }

  rename (from: string, to: string): void {
    nodeFs.renameSync(from, to)
  }

  link (from: string, to: string): void {
    nodeFs.linkSync(from, to)
  }

  unlinkInBackground (p: string): void {
    const done = new Promise<void>((resolve) => { nodeFs.unlink(p, () => resolve()) })
    this.#unlinking.add(done)
    void done.then(() => this.#unlinking.delete(done))
  }

  /** Background unlinks not yet finished. */
  readonly #unlinking = new Set<Promise<void>>()

  async backgroundUnlinksSettled (): Promise<void> {
    while (this.#unlinking.size > 0) await Promise.all([...this.#unlinking])
  }

  unlink (p: string): void {
    nodeFs.unlinkSync(p)
  }

  removeDir (dir: string): void {
    nodeFs.rmSync(dir, { recursive: true, force: true })
  }

  async syncDir (dir: string): Promise<void> {
    const fd = nodeFs.openSync(dir, 'r')
    try {
      await new Promise<void>((resolve, reject) => {
        nodeFs.fsync(fd, (err) => {
          // Some platforms cannot fsync a directory; there the rename is as durable as it gets.
          if (err != null && err.code !== 'EINVAL' && err.code !== 'EISDIR' && err.code !== 'EPERM') reject(err)
          else resolve()
        })
      })
    } finally {
      nodeFs.closeSync(fd)
    }
  }

  lock (lockFilePath: string): FileLock {
    const key = path.resolve(lockFilePath)
    if (heldLocks.has(key)) throw locked(path.dirname(key), 'held by this process')
    const content = JSON.stringify({ pid: process.pid, start: processStartTime('self') ?? null })
    for (let attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
      if (createExclusive(key, content)) {
        heldLocks.add(key)
        return this.#handle(key, content)
      }
      const text = readOwnerText(key)
      if (text === undefined) continue // released meanwhile: try again
      const owner = parseOwner(text)
      if (owner !== undefined && ownerIsAlive(owner) && !(owner.pid === process.pid && !heldLocks.has(key))) {
        throw locked(path.dirname(key), `LOCK held by live process ${owner.pid}`)
      }
      // Dead holder, a reused pid, an unreadable LOCK or our own leftover: stale, take it over.
      removeStale(key, text)
    }
    throw locked(path.dirname(key), 'lost the race for a stale LOCK to another process')
  }

  #handle (key: string, content: string): FileLock {
    let released = false
    return {
      release: () => {
        if (released) return
        released = true
        heldLocks.delete(key)
        // Remove the LOCK only if it is still ours.
        if (readOwnerText(key) === content) {
          try { nodeFs.unlinkSync(key) } catch {}
        }
      }
    }
  }
}
