import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { LsmLevel } from 'lsm-level'
import { CliFailure } from '../../cli-kit/failure.js'
import { humanSize } from '../../cli-kit/human-size.js'
import type { Output } from '../../cli-kit/output.js'
import { Progress, type ProgressFlags, progressWanted } from '../../cli-kit/progress.js'

/** Entries per batch written to the destination: large enough to amortize a write, small in memory. */
const BATCH_ENTRIES = 1000

/** The part of classic-level this command uses (it is loaded only when the command runs). */
interface ClassicDatabase {
  open (): Promise<void>
  close (): Promise<void>
  approximateSize (start: Buffer, end: Buffer): Promise<number>
  iterator (): { nextv (size: number): Promise<Array<[Buffer, Buffer]>>, close (): Promise<void> }
}

/**
 * `db import-leveldb SRC DST`: copy every entry of a LevelDB database (a classic-level or leveldown
 * directory) into a new lsm-level database, the on-disk formats being different. The source is opened with
 * classic-level, which takes its LOCK (a directory a running process holds is refused) and changes nothing
 * in it but LevelDB's own log files; DST must not hold a database yet. The copy is flushed to tables and
 * compacted before the command exits, so DST is complete and settled on disk.
 */
export async function dbImportLevelDb (src: string, dst: string, flags: ProgressFlags, out: Output): Promise<void> {
  if (!existsSync(join(src, 'CURRENT'))) throw new CliFailure(`${src} is not a LevelDB database (it has no CURRENT file)`, { code: 'LEVELRING_NOT_FOUND' })
  if (existsSync(dst) && readdirSync(dst).length > 0) {
    throw new CliFailure(`${dst} is not empty; import-leveldb writes a new database into an empty or missing directory`, { code: 'LEVELRING_BAD_ARGUMENT' })
  }
  const classic = await loadClassicLevel()
  const source = new classic.ClassicLevel(src, { createIfMissing: false, keyEncoding: 'buffer', valueEncoding: 'buffer' }) as unknown as ClassicDatabase
  await source.open()
  let entries = 0
  let bytes = 0
  try {
    const target = new LsmLevel<Buffer, Buffer>(dst, { keyEncoding: 'buffer', valueEncoding: 'buffer', errorIfExists: true })
    await target.open()
    try {
      const total = await source.approximateSize(Buffer.alloc(0), Buffer.alloc(64, 0xff))
      const progress = Progress.start(progressWanted(flags), 'import', total, 'bytes')
      const it = source.iterator()
      try {
        for (;;) {
          const page = await it.nextv(BATCH_ENTRIES)
          if (page.length === 0) break
          await target.batch(page.map(([key, value]) => ({ type: 'put' as const, key, value })))
          entries += page.length
          for (const [key, value] of page) bytes += key.length + value.length
          progress.set(bytes)
        }
      } finally {
        await it.close()
        progress.stop()
      }
      // Tables are fsynced: once the command exits the copy survives a power loss, and no commit log is left to replay.
      await target.compactRange(null as unknown as Buffer, null as unknown as Buffer)
    } finally {
      await target.close()
    }
  } finally {
    await source.close()
  }
  if (flags.json === true) {
    await out.json({ src, dst, entries, bytes })
    return
  }
  await out.lines([`${dst}: imported ${entries.toLocaleString('en-US')} entries (${humanSize(bytes)} of keys and values) from the LevelDB database ${src}`])
}

async function loadClassicLevel (): Promise<{ ClassicLevel: new (location: string, options: object) => unknown }> {
  try {
    // A computed specifier: classic-level is a development dependency, present where this command is used.
    const name: string = 'classic-level'
    return await import(name) as { ClassicLevel: new (location: string, options: object) => unknown }
  } catch (err) {
    throw new CliFailure(`import-leveldb reads the source with classic-level, which is not installed (${(err as Error).message.split('\n')[0]}): npm install classic-level`, { code: 'LEVELRING_NOT_FOUND' })
  }
}
