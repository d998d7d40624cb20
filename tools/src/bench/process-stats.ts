import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

// What the benchmark reads about processes and directories: Linux /proc counters, and the bytes
// a database occupies. On a system without /proc the readers return null and the report says so.

/** I/O counters of a process, from /proc/<pid>/io (summed over all its threads by the kernel). */
export interface ProcessIo {
  /** Bytes the process caused to be fetched from storage. */
  readBytes: number
  /** Bytes the process caused to be sent to storage (dirtied page cache counts when dirtied). */
  writeBytes: number
  /** Of writeBytes, bytes that never reached storage because the file was truncated or deleted first. */
  cancelledWriteBytes: number
  /** Bytes passed to write() and similar calls, cached or not. */
  wchar: number
}

/** The I/O counters of pid ('self' for this process), or null where /proc/<pid>/io is unreadable. */
export function readProcessIo (pid: number | 'self' = 'self'): ProcessIo | null {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/io`, 'utf8')
  } catch {
    return null
  }
  const fields = new Map<string, number>()
  for (const line of text.split('\n')) {
    const [name, value] = line.split(':')
    if (value !== undefined) fields.set(name.trim(), Number(value.trim()))
  }
  return {
    readBytes: fields.get('read_bytes') ?? 0,
    writeBytes: fields.get('write_bytes') ?? 0,
    cancelledWriteBytes: fields.get('cancelled_write_bytes') ?? 0,
    wchar: fields.get('wchar') ?? 0
  }
}

/** The difference after - before of every counter; null if either is. */
export function ioDelta (before: ProcessIo | null, after: ProcessIo | null): ProcessIo | null {
  if (before === null || after === null) return null
  return {
    readBytes: after.readBytes - before.readBytes,
    writeBytes: after.writeBytes - before.writeBytes,
    cancelledWriteBytes: after.cancelledWriteBytes - before.cancelledWriteBytes,
    wchar: after.wchar - before.wchar
  }
}

/** Resident set size of pid in bytes (VmRSS), or null if the process is gone or /proc is missing. */
export function readResidentBytes (pid: number): number | null {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return null
  }
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(text)
  return match === null ? null : Number(match[1]) * 1024
}

/** Sum of the sizes of the files under dir (apparent sizes, recursively); 0 if dir is missing. */
export function directoryBytes (dir: string): number {
  let entries
  try {
    entries = readdirSync(dir, { withFileTypes: true })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw err
  }
  let total = 0
  for (const entry of entries) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) total += directoryBytes(path)
    else if (entry.isFile()) total += statSync(path).size
  }
  return total
}

/** Clock ticks per second of /proc/<pid>/stat's CPU times (USER_HZ: 100 on every Linux architecture node runs on). */
const USER_HZ = 100

/** CPU time (user + system, all threads) pid has used, in seconds; null if the process is gone or /proc is missing. */
export function readCpuSeconds (pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces, inside parentheses): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ
  } catch {
    return null
  }
}
