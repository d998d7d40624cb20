import { join } from 'node:path'
import { logFileName, parseFileName, RealFileSystem } from 'lsm-level/tools'

/** A commit log in a database directory: `pending` ones hold writes not yet in a table (replayed at open). */
export interface CommitLog { file: string, number: number, size: number, pending: boolean }

/**
 * The commit logs in dir, oldest first. Those numbered at or above the MANIFEST's log number are pending;
 * older ones are obsolete (already in tables; the engine deletes them).
 */
export function commitLogs (dir: string, logNumber: number): CommitLog[] {
  const fs = new RealFileSystem()
  return fs.readdir(dir)
    .map((name) => parseFileName(name))
    .filter((p) => p?.kind === 'log')
    .map((p) => p!.number)
    .sort((a, b) => a - b)
    .map((number) => ({ file: logFileName(number), number, size: fs.stat(join(dir, logFileName(number))).size, pending: number >= logNumber }))
}
