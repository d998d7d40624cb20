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

/** Where a process's resident memory lies, in bytes, from /proc/<pid>/smaps (every thread's, as RSS counts it). */
export interface ResidentBreakdown {
  /** VmRSS: the sum of the parts below. */
  rss: number
  /** Pages of mapped files: node's own code (most of it), shared libraries. */
  fileBacked: number
  /** glibc malloc's main arena (the [heap] mapping, grown by brk): the main thread's mallocs, and every thread's once arenas are capped. */
  mallocMainArena: number
  /** glibc malloc's per-thread arenas (each a 64 MiB-aligned reservation), for threads that found the main arena busy. */
  mallocThreadArenas: number
  /** How many per-thread arenas there are. */
  threadArenas: number
  /** The other anonymous mappings: the V8 heaps of every isolate, malloc's mmapped chunks (its large blocks), thread stacks. */
  otherAnonymous: number
}

/** glibc's per-thread arena reservation on 64-bit (HEAP_MAX_SIZE): its arenas are mappings aligned to and summing to this. */
const ARENA_RESERVATION = 64 * 1024 * 1024

/** The resident memory of pid by kind of mapping, or null if the process is gone or /proc is missing. */
export function readResidentBreakdown (pid: number): ResidentBreakdown | null {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8')
  } catch {
    return null
  }
  const maps: Array<{ start: number, end: number, perms: string, path: string, rss: number }> = []
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (head !== null) {
      maps.push({ start: parseInt(head[1]!, 16), end: parseInt(head[2]!, 16), perms: head[3]!, path: head[4]!.trim(), rss: 0 })
    } else if (line.startsWith('Rss:') && maps.length > 0) {
      maps[maps.length - 1]!.rss = Number(line.split(/\s+/)[1]) * 1024
    }
  }
  const out: ResidentBreakdown = { rss: 0, fileBacked: 0, mallocMainArena: 0, mallocThreadArenas: 0, threadArenas: 0, otherAnonymous: 0 }
  for (let i = 0; i < maps.length; i++) {
    const m = maps[i]!
    out.rss += m.rss
    if (m.path === '[heap]') { out.mallocMainArena += m.rss; continue }
    if (m.path.startsWith('/')) { out.fileBacked += m.rss; continue }
    if (m.path === '' && m.start % ARENA_RESERVATION === 0 && m.perms.startsWith('rw')) {
      // An arena: its used part (rw) and the rest of the reservation (---p), adjacent, 64 MiB in all.
      let end = i
      let rss = 0
      while (end < maps.length && maps[end]!.path === '' && maps[end]!.start === (end === i ? m.start : maps[end - 1]!.end) && maps[end]!.end - m.start <= ARENA_RESERVATION) rss += maps[end++]!.rss
      if (end > i + 1 && maps[end - 1]!.end - m.start === ARENA_RESERVATION && maps[end - 1]!.perms.startsWith('---')) {
        out.mallocThreadArenas += rss
        out.threadArenas++
        out.rss += rss - m.rss
        i = end - 1
        continue
      }
    }
    out.otherAnonymous += m.rss
  }
  return out
}
