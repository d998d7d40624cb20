import { MemoryFileSystem } from '../../../engine/src/fs/memory.js'
import { compareInternalKeys, makeInternalKey, KIND_VALUE } from '../../../engine/src/keys.js'
import { TableBuilder, type TableBuilderOptions } from '../../../engine/src/sstable/table-builder.js'
import { Table, type TableOpenOptions } from '../../../engine/src/sstable/table.js'
import type { InternalIterator } from '../../../engine/src/iterator/internal-iterator.js'

export interface Entry { key: Buffer, value: Buffer }

export const ik = (k: string | Buffer, seq: number, kind: number = KIND_VALUE): Buffer =>
  makeInternalKey(typeof k === 'string' ? Buffer.from(k) : k, seq, kind)

export function sortEntries (entries: Entry[]): Entry[] {
  return entries.sort((a, b) => compareInternalKeys(a.key, b.key))
}

/** Builds a table in a fresh MemoryFileSystem; returns the fs, path and builder result. */
export function buildTable (entries: Entry[], opts: Partial<TableBuilderOptions> = {}): { fs: MemoryFileSystem, path: string, props: ReturnType<TableBuilder['finish']> } {
  const fs = new MemoryFileSystem()
  fs.mkdirp('/db')
  const path = '/db/000005.sst'
  const f = fs.openWritable(path)
  const b = new TableBuilder(f, { blockSize: 4096, restartInterval: 16, bitsPerKey: 10, fileName: path, ...opts })
  for (const e of entries) b.add(e.key, e.value)
  const props = b.finish()
  f.close()
  return { fs, path, props }
}

export function openTable (fs: MemoryFileSystem, path: string, opts: Partial<TableOpenOptions> = {}): Table {
  return Table.open(fs.openReadable(path), { fileNumber: 5, fileName: path, ...opts })
}

/** Rewrites a file with some bytes changed. */
export function patchFile (fs: MemoryFileSystem, path: string, patch: (buf: Buffer) => Buffer | void): void {
  const buf = fs.readFile(path)
  const out = patch(buf) ?? buf
  const f = fs.openWritable(path)
  f.append(out)
  f.close()
}

export function collectForward (it: InternalIterator): Entry[] {
  const out: Entry[] = []
  for (it.seekToFirst(); it.valid(); it.next()) out.push({ key: Buffer.from(it.key()), value: Buffer.from(it.value()) })
  return out
}

export function collectBackward (it: InternalIterator): Entry[] {
  const out: Entry[] = []
  for (it.seekToLast(); it.valid(); it.prev()) out.push({ key: Buffer.from(it.key()), value: Buffer.from(it.value()) })
  return out
}

export function sameEntries (a: Entry[], b: Entry[]): boolean {
  return a.length === b.length && a.every((e, i) => e.key.equals(b[i].key) && e.value.equals(b[i].value))
}

