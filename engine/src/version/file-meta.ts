import { userKeyOf } from '../keys.js'

/** What the manifest records of one live SSTable. Keys are internal keys. */
export interface FileMeta {
  readonly number: number
  readonly size: number
  readonly smallest: Buffer
  readonly largest: Buffer
  /** Sequence range of the entries; orders level-0 files, which may overlap in keys. */
  readonly minSeq: number
  readonly maxSeq: number
}

/**
 * A copy of b in an ArrayBuffer of its own, exactly its size. For keys kept as long as a table lives, and sent
 * to the worker thread: a small Buffer.from() copy is a view of an 8 KiB pool slab, which it would keep alive,
 * and which structured clone would copy whole with every job and result sent between the threads.
 */
export function exactCopy (b: Uint8Array): Buffer {
  const out = Buffer.allocUnsafeSlow(b.length)
  out.set(b)
  return out
}

/** The file name of table number n: six digits at least, like LevelDB's, so listings sort. */
export function tableFileName (n: number): string {
  return String(n).padStart(6, '0') + '.sst'
}

/** The file name of commit log number n. */
export function logFileName (n: number): string {
  return String(n).padStart(6, '0') + '.log'
}

/** The file name of manifest number n. */
export function manifestFileName (n: number): string {
  return 'MANIFEST-' + String(n).padStart(6, '0')
}

export type FileKind = 'table' | 'log' | 'manifest' | 'current' | 'lock' | 'temp' | 'info'

/** Classify a directory entry by name; undefined for files the engine does not own. */
export function parseFileName (name: string): { kind: FileKind, number: number } | undefined {
  let m = /^(\d+)\.sst$/.exec(name)
  if (m !== null) return { kind: 'table', number: Number(m[1]) }
  m = /^(\d+)\.log$/.exec(name)
  if (m !== null) return { kind: 'log', number: Number(m[1]) }
  m = /^MANIFEST-(\d+)$/.exec(name)
  if (m !== null) return { kind: 'manifest', number: Number(m[1]) }
  if (name === 'CURRENT') return { kind: 'current', number: 0 }
  if (name === 'LOCK') return { kind: 'lock', number: 0 }
  m = /^(\d+)\.tmp$/.exec(name)
  if (m !== null) return { kind: 'temp', number: Number(m[1]) }
  return undefined
}

/** User-key bounds of a file. */
export function smallestUserKey (f: FileMeta): Buffer { return userKeyOf(f.smallest) }
export function largestUserKey (f: FileMeta): Buffer { return userKeyOf(f.largest) }

/** Whether the file's user-key range meets [start, end] (inclusive; null means unbounded). */
export function fileOverlaps (f: FileMeta, start: Buffer | null, end: Buffer | null): boolean {
  if (start !== null && largestUserKey(f).compare(start) < 0) return false
  if (end !== null && smallestUserKey(f).compare(end) > 0) return false
  return true
}
