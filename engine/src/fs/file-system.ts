/**
 * Every byte of I/O the engine does goes through FileSystem (LevelDB's Env, Pebble's vfs), so tests can
 * swap in MemoryFileSystem (power-loss simulation) or FaultInjectingFileSystem (ENOSPC/EIO on chosen calls).
 *
 * Errors: methods throw (or reject with) node-style errors carrying `.code` (ENOENT, ENOSPC, EIO, ...);
 * the engine wraps them with errors.ts ioError(). Exceptions: a short read is LEVEL_CORRUPTION (the file is
 * shorter than its metadata says) and lock() throws LEVEL_LOCKED.
 */

/** The file-system operations the engine needs, and nothing more. */
export interface FileSystem {
  /** Creates dir and missing parents; no error if it exists. */
  mkdirp(dir: string): void
  /** Names (not paths) of the entries in dir; throws ENOENT if dir is missing. */
  readdir(dir: string): string[]
  exists(path: string): boolean
  /** Throws ENOENT if missing. */
  stat(path: string): { size: number, isDirectory: boolean }
  /** The whole content of a (small) file. */
  readFile(path: string): Buffer
  /** Create (truncate) a file for sequential writing. */
  openWritable(path: string): WritableFile
  /** Open an existing file for positional reads. */
  openReadable(path: string): ReadableFile
  /** Atomically replaces `to` with `from` (durable only after syncDir of the directory). */
  rename(from: string, to: string): void
  /**
   * Optional: make `to` a second name of the existing file `from` (a hard link), for checkpoints; throws
   * when the two cannot share the file (another device), and the caller copies instead.
   */
  link?(from: string, to: string): void
  unlink(path: string): void
  /**
   * Optional: remove a file without waiting (deleting a large file can take milliseconds); failures are
   * ignored. Used only for obsolete files, whose names are never reused.
   */
  unlinkInBackground?(path: string): void
  /**
   * Resolves once every unlinkInBackground() begun so far has finished: a database waits for it before it
   * gives up its lock, so that no deletion of its obsolete files runs after the next owner listed them.
   */
  backgroundUnlinksSettled?(): Promise<void>
  /** Recursive removal, for destroy(); no error if missing. */
  removeDir(dir: string): void
  /** Make the directory entries (creates, renames, unlinks) in dir durable. */
  syncDir(dir: string): Promise<void>
  /** Exclusive ownership of a database directory, in this process and across processes; throws LEVEL_LOCKED. */
  lock(lockFilePath: string): FileLock
}

/** A held lock; release() gives it up (idempotent). */
export interface FileLock { release(): void }

/** An append-only file being written. */
export interface WritableFile {
  readonly path: string
  /** Bytes appended so far (buffered included). */
  readonly size: number
  /** Buffers a copy of data in memory (the caller may reuse data afterwards). */
  append(data: Uint8Array): void
  /** One write of everything buffered: after it returns, the bytes are in the OS (survive a process crash). */
  flush(): void
  /** flush + fdatasync, off the event loop: after it resolves, the bytes survive power loss. */
  sync(): Promise<void>
  /** flush + fdatasync, blocking. */
  syncSync(): void
  /** Flushes and closes; does not sync. Await any pending sync() first. */
  close(): void
}

/** A file opened for positional reads. */
export interface ReadableFile {
  readonly path: string
  /** Size at open time. */
  readonly size: number
  /**
   * Synchronous positional read of exactly `length` bytes; a short read at EOF throws LEVEL_CORRUPTION. With
   * `into` (at least `length` bytes) the bytes land there and a view of its first `length` bytes is returned.
   */
  read(offset: number, length: number, into?: Buffer): Buffer
  close(): void
}
