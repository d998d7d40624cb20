import { mkdir } from 'node:fs/promises'
import type { AbstractLevel } from 'abstract-level'
import { LsmLevel, type FileSystem } from 'lsm-level'

/** The engine under one node, opened, with the name shown by /v1/health. */
export interface OpenedEngine {
  readonly db: AbstractLevel<any, string, string>
  readonly name: string
}

/** The engine options an operator may set (node/config-schema.ts); undefined keeps lsm-level's default. */
export interface EngineTuning {
  readonly writeBufferSize?: number
  readonly blockCacheSize?: number
  readonly maxOpenFiles?: number
}

/**
 * Open the node's lsm-level database in `dataDir` (created if missing). The one place that names the
 * engine: everything else sees an abstract-level database. `fs`: the engine's file system, real files
 * unless a test passes its power-loss simulation (lsm-level's MemoryFileSystem); `tuning`: the operator's
 * engine options.
 */
export async function openEngine (dataDir: string, fs?: FileSystem, tuning: EngineTuning = {}): Promise<OpenedEngine> {
  if (fs === undefined) await mkdir(dataDir, { recursive: true })
  const db = new LsmLevel<string, string>(dataDir, { keyEncoding: 'utf8', valueEncoding: 'utf8', ...definedOnly(tuning), ...(fs === undefined ? {} : { fs }) })
  await db.open()
  // Seen as any abstract-level database from here on (TypeScript cannot always prove the subclass fits).
  return { db: db as unknown as AbstractLevel<any, string, string>, name: 'lsm-level' }
}

function definedOnly (tuning: EngineTuning): EngineTuning {
  return Object.fromEntries(Object.entries(tuning).filter(([, v]) => v !== undefined))
}
