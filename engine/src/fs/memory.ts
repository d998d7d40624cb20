/**
 * An in-memory FileSystem that knows what is durable, to test crash recovery without pulling plugs:
 * file data is durable up to its last sync()/syncSync(); a directory entry created, renamed or unlinked
 * becomes durable only at syncDir(its directory). crash() is a power loss: every file loses its unsynced
 * bytes and every entry change not made durable reverts. Directories themselves (mkdirp, removeDir) are
 * durable at once: the engine creates its directory before anything that needs to survive.
 */
import * as path from 'node:path'
import { corruption, locked } from '../errors.js'
import type { FileLock, FileSystem, ReadableFile, WritableFile } from './file-system.js'

/** A file's bytes independent of its name (renames move the name, not the data). */
class Inode {
  data: Buffer = Buffer.alloc(0)
  /** Bytes written to the "OS" (flushed). */
  len = 0
  /** Bytes that survive crash(). */
  syncedLen = 0

  write (bytes: Uint8Array): void {
    const need = this.len + bytes.length
    if (need > this.data.length) {
      const next = Buffer.alloc(Math.max(need, this.data.length * 2, 256))
      this.data.copy(next, 0, 0, this.len)
      this.data = next
    }
    this.data.set(bytes, this.len)
    this.len = need
  }
}

function errno (code: string, message: string, p: string): Error {
  return Object.assign(new Error(`${code}: ${message}, '${p}'`), { code, path: p })
}

class MemoryWritableFile implements WritableFile {
  readonly path: string
  #fs: MemoryFileSystem
  #inode: Inode
  #generation: number
  #pending: Buffer[] = []
  #pendingBytes = 0
  #closed = false

  constructor (fs: MemoryFileSystem, p: string, inode: Inode, generation: number) {
    this.#fs = fs
    this.path = p
    this.#inode = inode
    this.#generation = generation
  }

  get size (): number { return this.#inode.len + this.#pendingBytes }

  append (data: Uint8Array): void {
    this.#check()
    this.#pending.push(Buffer.from(data))
    this.#pendingBytes += data.length
  }

  flush (): void {
    this.#check()
    for (const b of this.#pending) this.#inode.write(b)
    this.#pending = []
    this.#pendingBytes = 0
  }

  async sync (): Promise<void> {
    this.syncSync()
  }

  syncSync (): void {
    this.flush()
    this.#inode.syncedLen = this.#inode.len
  }

  close (): void {
    if (this.#closed) return
    if (this.#fs.generation === this.#generation) this.flush()
    this.#closed = true
  }

  #check (): void {
    if (this.#closed) throw errno('EBADF', 'file is closed', this.path)
    if (this.#fs.generation !== this.#generation) throw errno('EBADF', 'handle opened before crash()', this.path)
  }
}

class MemoryReadableFile implements ReadableFile {
  readonly path: string
  readonly size: number
  #fs: MemoryFileSystem
  #inode: Inode
  #generation: number

  constructor (fs: MemoryFileSystem, p: string, inode: Inode, generation: number) {
    this.#fs = fs
    this.path = p
    this.#inode = inode
    this.size = inode.len
    this.#generation = generation
  }

  read (offset: number, length: number, into?: Buffer): Buffer {
    if (this.#fs.generation !== this.#generation) throw errno('EBADF', 'handle opened before crash()', this.path)
    const end = Math.min(offset + length, this.#inode.len)
    if (end - offset < length) {
      throw corruption(`short read: wanted ${length} bytes, file ends after ${Math.max(0, end - offset)}`, { file: this.path, offset: Math.max(offset, end) })
    }
    // A copy, as a real read would be: later writes to the inode must not show through.
    if (into === undefined) return Buffer.from(this.#inode.data.subarray(offset, end))
    this.#inode.data.copy(into, 0, offset, end)
    return into.subarray(0, length)
  }

  close (): void {}
}

/** What of the unsynced bytes a crash() keeps (default: none). */
export interface CrashOptions {
  /** How many of the file's `unsyncedBytes` (written to the OS, not synced) reach the disk anyway, from the start. */
  keepUnsynced?: (path: string, unsyncedBytes: number) => number
  /** Whether the kept unsynced bytes of this file read back as zeros rather than as the data written. */
  zeroFill?: (path: string) => boolean
  /** Whether an entry created or renamed here since the last syncDir reached the disk anyway (a journal commit). */
  keepEntry?: (path: string) => boolean
}

/** In-memory FileSystem with power-loss simulation (crash()). */
export class MemoryFileSystem implements FileSystem {
  /** Bumped by crash(): handles from an older generation are dead. */
  generation = 0
  #dirs = new Set<string>(['/'])
  /** The namespace as the running process sees it. */
  #entries = new Map<string, Inode>()
  /** The namespace as it would be found after a power loss. */
  #durable = new Map<string, Inode>()
  #locks = new Set<string>()

  #norm (p: string): string {
    return path.resolve(p)
  }

  #requireParent (p: string): void {
    const dir = path.dirname(p)
    if (!this.#dirs.has(dir)) throw errno('ENOENT', 'no such directory', dir)
  }

  mkdirp (dir: string): void {
    let d = this.#norm(dir)
    if (this.#entries.has(d)) throw errno('EEXIST', 'a file has that name', d)
    while (!this.#dirs.has(d)) {
      this.#dirs.add(d)
      d = path.dirname(d)
    }
  }

  readdir (dir: string): string[] {
    const d = this.#norm(dir)
    if (!this.#dirs.has(d)) throw errno('ENOENT', 'no such directory', d)
    const names: string[] = []
    for (const p of this.#entries.keys()) if (path.dirname(p) === d) names.push(path.basename(p))
    for (const p of this.#dirs) if (p !== d && path.dirname(p) === d) names.push(path.basename(p))
    return names.sort()
  }

  exists (p: string): boolean {
    const n = this.#norm(p)
    return this.#entries.has(n) || this.#dirs.has(n)
  }

  stat (p: string): { size: number, isDirectory: boolean } {
    const n = this.#norm(p)
    if (this.#dirs.has(n)) return { size: 0, isDirectory: true }
    const inode = this.#entries.get(n)
    if (inode === undefined) throw errno('ENOENT', 'no such file', n)
    return { size: inode.len, isDirectory: false }
  }

  readFile (p: string): Buffer {
    const n = this.#norm(p)
    const inode = this.#entries.get(n)
    if (inode === undefined) throw errno(this.#dirs.has(n) ? 'EISDIR' : 'ENOENT', 'cannot read', n)
    return Buffer.from(inode.data.subarray(0, inode.len))
  }

  openWritable (p: string): WritableFile {
    const n = this.#norm(p)
    this.#requireParent(n)
    if (this.#dirs.has(n)) throw errno('EISDIR', 'is a directory', n)
    const inode = new Inode()
    this.#entries.set(n, inode)
    return new MemoryWritableFile(this, n, inode, this.generation)
  }

  openReadable (p: string): ReadableFile {
    const n = this.#norm(p)
    const inode = this.#entries.get(n)
    if (inode === undefined) throw errno('ENOENT', 'no such file', n)
    return new MemoryReadableFile(this, n, inode, this.generation)
  }

  rename (from: string, to: string): void {
    const f = this.#norm(from)
    const t = this.#norm(to)
    const inode = this.#entries.get(f)
    if (inode === undefined) throw errno('ENOENT', 'no such file', f)
    this.#requireParent(t)
    this.#entries.delete(f)
    this.#entries.set(t, inode)
  }

  link (from: string, to: string): void {
    const f = this.#norm(from)
    const t = this.#norm(to)
    const inode = this.#entries.get(f)
    if (inode === undefined) throw errno('ENOENT', 'no such file', f)
    if (this.#entries.has(t)) throw errno('EEXIST', 'file exists', t)
    this.#requireParent(t)
    this.#entries.set(t, inode)
  }

  unlink (p: string): void {
    const n = this.#norm(p)
    if (!this.#entries.delete(n)) throw errno('ENOENT', 'no such file', n)
  }

  removeDir (dir: string): void {
    const d = this.#norm(dir)
    const inside = (p: string): boolean => p === d || p.startsWith(d.endsWith('/') ? d : d + '/')
    for (const p of [...this.#entries.keys()]) if (inside(p)) this.#entries.delete(p)
    for (const p of [...this.#durable.keys()]) if (inside(p)) this.#durable.delete(p)
    for (const p of [...this.#dirs]) if (inside(p) && p !== '/') this.#dirs.delete(p)
  }

  async syncDir (dir: string): Promise<void> {
    const d = this.#norm(dir)
    if (!this.#dirs.has(d)) throw errno('ENOENT', 'no such directory', d)
    for (const p of [...this.#durable.keys()]) {
      if (path.dirname(p) === d && !this.#entries.has(p)) this.#durable.delete(p)
    }
    for (const [p, inode] of this.#entries) {
      if (path.dirname(p) === d) this.#durable.set(p, inode)
    }
  }

  lock (lockFilePath: string): FileLock {
    const n = this.#norm(lockFilePath)
    if (this.#locks.has(n)) throw locked(path.dirname(n), 'held by this process')
    this.#locks.add(n)
    const generation = this.generation
    let released = false
    return {
      release: () => {
        if (released) return
        released = true
        if (this.generation === generation) this.#locks.delete(n)
      }
    }
  }

  /**
   * Power loss: unsynced file bytes are dropped, directory changes not made durable by syncDir revert,
   * locks are released (the process died) and every open handle becomes invalid (EBADF). Options model a
   * disk that wrote back part of what was not synced: a prefix of each file's unsynced bytes, read back as
   * the data written or (a size that reached the disk before its data) as zeros.
   */
  crash (options: CrashOptions = {}): void {
    this.generation++
    this.#locks.clear()
    const entries = new Map(this.#durable)
    if (options.keepEntry !== undefined) {
      for (const [p, inode] of this.#entries) if (this.#durable.get(p) !== inode && options.keepEntry(p)) entries.set(p, inode)
    }
    this.#entries = entries
    this.#durable = new Map(entries)
    const seen = new Set<Inode>()
    for (const [p, inode] of entries) {
      if (seen.has(inode)) continue
      seen.add(inode)
      const unsynced = inode.len - inode.syncedLen
      const kept = unsynced > 0 ? Math.max(0, Math.min(unsynced, Math.floor(options.keepUnsynced?.(p, unsynced) ?? 0))) : 0
      if (kept > 0 && options.zeroFill?.(p) === true) inode.data.fill(0, inode.syncedLen, inode.syncedLen + kept)
      inode.len = inode.syncedLen + kept
      inode.syncedLen = inode.len
    }
  }

  /** Test helper: overwrites bytes of an existing file in place, durably (to simulate media corruption). */
  corrupt (p: string, offset: number, bytes: Uint8Array): void {
    const n = this.#norm(p)
    const inode = this.#entries.get(n)
    if (inode === undefined) throw errno('ENOENT', 'no such file', n)
    if (offset + bytes.length > inode.len) throw new RangeError(`corrupt(): ${n} has only ${inode.len} bytes`)
    inode.data.set(bytes, offset)
  }
}
