import type { CommonFlags } from '../../cli-kit/common-options.js'
import { bytesForJson, bytesForTerminal, parseBytes } from '../../cli-kit/byte-encoding.js'
import { CliFailure } from '../../cli-kit/failure.js'
import type { Output } from '../../cli-kit/output.js'
import { requireDatabase, withDatabase } from './database-directory.js'
import { isNodeDataDirectory, nodeStorageDel, nodeStoragePut } from './node-storage-writes.js'

export interface GetFlags extends CommonFlags { raw?: boolean }

/** `db get DIR KEY`: the value (in --encoding, or the exact bytes with --raw); a missing key exits 1. */
export async function dbGet (dir: string, keyText: string, flags: GetFlags, out: Output): Promise<void> {
  const key = parseBytes(keyText, flags.encoding, 'KEY')
  const value = await withDatabase(dir, async (db) => await db.get(key), { readOnly: true })
  if (value === undefined) throw new CliFailure(`key ${bytesForTerminal(key, flags.encoding)} not found in ${dir}`, { code: 'LEVELRING_NOT_FOUND' })
  if (flags.json === true) await out.json({ key: bytesForJson(key, flags.encoding), value: bytesForJson(value, flags.encoding), valueSize: value.length })
  else if (flags.raw === true) process.stdout.write(value)
  else await out.lines([bytesForTerminal(value, flags.encoding)])
}

/** Whether `dir` is an existing node's data directory, whose writes go through its storage (node-storage-writes.ts). */
async function isNodeDirectory (dir: string, create: boolean): Promise<boolean> {
  if (create) {
    try { requireDatabase(dir) } catch { return false } // --create on a missing database: a new plain one
  }
  return await isNodeDataDirectory(dir)
}

/**
 * `db put DIR KEY VALUE`: one durable (fsynced) write. In a node's data directory an object goes
 * through the node's own write path, so its index entries stay in step.
 */
export async function dbPut (dir: string, keyText: string, valueText: string, flags: CommonFlags & { create?: boolean }, out: Output): Promise<void> {
  const key = parseBytes(keyText, flags.encoding, 'KEY')
  const value = parseBytes(valueText, flags.encoding, 'VALUE')
  if (await isNodeDirectory(dir, flags.create === true)) await nodeStoragePut(dir, key, value)
  else await withDatabase(dir, async (db) => { await db.put(key, value, { sync: true } as object) }, { create: flags.create })
  if (flags.json === true) await out.json({ key: bytesForJson(key, flags.encoding), valueSize: value.length, written: true })
  else await out.lines([`put ${bytesForTerminal(key, flags.encoding)} (${value.length} bytes)`])
}

/**
 * `db del DIR KEY`: one durable deletion (deleting a missing key is not an error, as in the engine).
 * In a node's data directory an object is removed with its index entries.
 */
export async function dbDel (dir: string, keyText: string, flags: CommonFlags, out: Output): Promise<void> {
  const key = parseBytes(keyText, flags.encoding, 'KEY')
  if (await isNodeDirectory(dir, false)) await nodeStorageDel(dir, key)
  else await withDatabase(dir, async (db) => { await db.del(key, { sync: true } as object) })
  if (flags.json === true) await out.json({ key: bytesForJson(key, flags.encoding), deleted: true })
  else await out.lines([`deleted ${bytesForTerminal(key, flags.encoding)}`])
}
