import { mkdir } from 'node:fs/promises'
import type { AbstractLevel } from 'abstract-level'
import { LsmLevel, type FileSystem } from 'lsm-level'

/** The engine under one node, opened, with the name shown by /v1/health. */
export interface OpenedEngine {
  readonly db: AbstractLevel<any, string, string>
  readonly name: string
}

/**
 * Open the node's lsm-level database in `dataDir` (created if missing). The one place that names the
 * engine: everything else sees an abstract-level database. `fs`: the engine's file system, real files
 * unless a test passes its power-loss simulation (lsm-level's MemoryFileSystem).
 */
export async function openEngine (dataDir: string, fs?: FileSystem): Promise<OpenedEngine> {
  if (fs === undefined) await mkdir(dataDir, { recursive: true })
  const db = new LsmLevel<string, string>(dataDir, { keyEncoding: 'utf8', valueEncoding: 'utf8', ...(fs === undefined ? {} : { fs }) })
  await db.open()
  return { db, name: 'lsm-level' }
}
