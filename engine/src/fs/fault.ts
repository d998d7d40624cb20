/**
 * A FileSystem wrapper that fails chosen calls the way the OS does (an Error with code ENOSPC or EIO),
 * to test that the engine turns every I/O failure into a clear error and loses nothing acknowledged.
 */
import type { FileLock, FileSystem, ReadableFile, WritableFile } from './file-system.js'

/**
 * Operations a fault can target. 'open' covers openWritable and openReadable, 'create' openWritable alone;
 * 'sync' covers sync and syncSync; 'read' covers ReadableFile.read and readFile; 'lock' the LOCK file.
 */
export type FaultOp = 'open' | 'create' | 'append' | 'flush' | 'sync' | 'rename' | 'link' | 'unlink' | 'syncDir' | 'read' | 'readdir' | 'lock'

/** Which calls fail and how. */
export interface FaultRule {
  op: FaultOp
  /** Only calls on a matching path (for rename: either path). */
  path?: RegExp
  /** A full disk, a failing disk, or (EACCES) a directory the process may not use. */
  code: 'ENOSPC' | 'EIO' | 'EACCES'
  /** Let this many matching calls succeed first (default 0). */
  afterCalls?: number
  /** Fail this many matching calls, then succeed again (default: forever, until clear()). */
  times?: number
}

const ERRNO: Record<FaultRule['code'], number> = { ENOSPC: -28, EIO: -5, EACCES: -13 }
const MESSAGE: Record<FaultRule['code'], string> = { ENOSPC: 'no space left on device', EIO: 'i/o error', EACCES: 'permission denied' }

interface ActiveRule { rule: FaultRule, seen: number, fired: number }

/** Wraps a FileSystem; inject() arms faults, clear() lifts them, calls counts every call per op. */
export class FaultInjectingFileSystem implements FileSystem {
  readonly inner: FileSystem
  /** Calls seen per op (faulted ones included). */
  readonly calls: Record<FaultOp, number> = { open: 0, create: 0, append: 0, flush: 0, sync: 0, rename: 0, link: 0, unlink: 0, syncDir: 0, read: 0, readdir: 0, lock: 0 }
  /** Faults raised so far. */
  injected = 0
  #rules: ActiveRule[] = []

  constructor (inner: FileSystem) {
    this.inner = inner
  }

  /** Arms a fault; matching calls throw (or reject with) an Error carrying `code`, like node's. */
  inject (rule: FaultRule): void {
    this.#rules.push({ rule, seen: 0, fired: 0 })
  }

  /** Lifts all faults. */
  clear (): void {
    this.#rules = []
  }

  /** Counts the call and throws if an armed rule matches it. */
  check (op: FaultOp, ...paths: string[]): void {
    this.calls[op]++
    for (const a of this.#rules) {
      const r = a.rule
      if (r.op !== op) continue
      if (r.path !== undefined && !paths.some((p) => r.path!.test(p))) continue
      a.seen++
      if (a.seen <= (r.afterCalls ?? 0)) continue
      if (a.fired >= (r.times ?? Infinity)) continue
      a.fired++
      this.injected++
      throw Object.assign(new Error(`${r.code}: ${MESSAGE[r.code]} (injected), ${op} '${paths[0]}'`), {
        code: r.code, errno: ERRNO[r.code], syscall: op, path: paths[0]
      })
    }
  }

  async #checkAsync (op: FaultOp, ...paths: string[]): Promise<void> {
    this.check(op, ...paths)
  }

  mkdirp (dir: string): void { this.inner.mkdirp(dir) }

  readdir (dir: string): string[] {
    this.check('readdir', dir)
    return this.inner.readdir(dir)
  }

  exists (p: string): boolean { return this.inner.exists(p) }
  stat (p: string): { size: number, isDirectory: boolean } { return this.inner.stat(p) }

  readFile (p: string): Buffer {
    this.check('read', p)
    return this.inner.readFile(p)
  }

  openWritable (p: string): WritableFile {
    this.check('open', p)
    this.check('create', p)
    return new FaultyWritableFile(this, this.inner.openWritable(p))
  }

  openReadable (p: string): ReadableFile {
    this.check('open', p)
    return new FaultyReadableFile(this, this.inner.openReadable(p))
  }

  rename (from: string, to: string): void {
    this.check('rename', from, to)
    this.inner.rename(from, to)
  }

  link (from: string, to: string): void {
    this.check('link', from, to)
    if (this.inner.link === undefined) throw Object.assign(new Error('link is not supported'), { code: 'ENOTSUP' })
    this.inner.link(from, to)
  }

  unlink (p: string): void {
    this.check('unlink', p)
    this.inner.unlink(p)
  }

  removeDir (dir: string): void { this.inner.removeDir(dir) }

  async syncDir (dir: string): Promise<void> {
    await this.#checkAsync('syncDir', dir)
    await this.inner.syncDir(dir)
  }

  lock (lockFilePath: string): FileLock {
    this.check('lock', lockFilePath)
    return this.inner.lock(lockFilePath)
  }
}

class FaultyWritableFile implements WritableFile {
  readonly #fs: FaultInjectingFileSystem
  readonly #inner: WritableFile

  constructor (fs: FaultInjectingFileSystem, inner: WritableFile) {
    this.#fs = fs
    this.#inner = inner
  }

  get path (): string { return this.#inner.path }
  get size (): number { return this.#inner.size }

  append (data: Uint8Array): void {
    this.#fs.check('append', this.path)
    this.#inner.append(data)
  }

  flush (): void {
    this.#fs.check('flush', this.path)
    this.#inner.flush()
  }

  async sync (): Promise<void> {
    this.#fs.check('sync', this.path)
    await this.#inner.sync()
  }

  syncSync (): void {
    this.#fs.check('sync', this.path)
    this.#inner.syncSync()
  }

  close (): void { this.#inner.close() }
}

class FaultyReadableFile implements ReadableFile {
  readonly #fs: FaultInjectingFileSystem
  readonly #inner: ReadableFile

  constructor (fs: FaultInjectingFileSystem, inner: ReadableFile) {
    this.#fs = fs
    this.#inner = inner
  }

  get path (): string { return this.#inner.path }
  get size (): number { return this.#inner.size }

  read (offset: number, length: number, into?: Buffer): Buffer {
    this.#fs.check('read', this.path)
    return this.#inner.read(offset, length, into)
  }

  close (): void { this.#inner.close() }
}
