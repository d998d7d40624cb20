import { join } from 'node:path'
import { LsmLevel } from 'lsm-level'
import { RealFileSystem } from 'lsm-level/tools'
import { CliFailure } from '../../cli-kit/failure.js'

/** A database opened by a tool: keys and values are bytes, as the tool types and shows them itself. */
export type ToolDatabase = LsmLevel<Buffer, Buffer>

/** Throws a CliFailure unless dir is a database directory (it has a CURRENT file). */
export function requireDatabase (dir: string): void {
  const fs = new RealFileSystem()
  if (!fs.exists(dir)) throw new CliFailure(`${dir}: no such database directory`, { code: 'LEVELRING_NOT_FOUND' })
  if (!fs.stat(dir).isDirectory) throw new CliFailure(`${dir} is not a directory; db commands take a database directory`, { code: 'LEVELRING_BAD_ARGUMENT' })
  if (!fs.exists(join(dir, 'CURRENT'))) throw new CliFailure(`${dir} is not a database (it has no CURRENT file)`, { code: 'LEVELRING_NOT_FOUND' })
}

/**
 * Opens the database in dir with the engine, which takes its LOCK: a directory a running process holds is
 * refused with LEVEL_LOCKED naming the holder's pid. With readOnly, nothing in the directory changes (the
 * commit logs are replayed into memory only).
 */
export async function openDatabase (dir: string, options: { create?: boolean, readOnly?: boolean } = {}): Promise<ToolDatabase> {
  if (options.create !== true) requireDatabase(dir)
  const db = new LsmLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer', readOnly: options.readOnly === true })
  await db.open({ createIfMissing: options.create === true })
  return db
}

/** Runs fn on the open database and closes it whatever happens. */
export async function withDatabase<T> (dir: string, fn: (db: ToolDatabase) => Promise<T>, options: { create?: boolean, readOnly?: boolean } = {}): Promise<T> {
  const db = await openDatabase(dir, options)
  try {
    return await fn(db)
  } finally {
    await db.close()
  }
}

/**
 * Runs fn while holding the database's LOCK, without opening it: read-only inspection (`db lsm`,
 * `db check`) that must not replay logs, flush or compact. A held database is refused with LEVEL_LOCKED.
 */
export async function withDatabaseLocked<T> (dir: string, fn: () => Promise<T>): Promise<T> {
  requireDatabase(dir)
  const lock = new RealFileSystem().lock(join(dir, 'LOCK'))
  try {
    return await fn()
  } finally {
    lock.release()
  }
}
