import type { AbstractLevel } from 'abstract-level'
import { pathToFileURL } from 'node:url'

// The engines the benchmark compares, each loaded on demand so that a child process holds only
// the engine it measures (classic-level's native binding must not inflate memory-level's RSS).

/** An opened-or-openable database with string keys and values, whatever engine is behind it. */
export type BenchDatabase = AbstractLevel<any, string, string>

/** Builds a database at a location, the way each engine's constructor wants it. */
export type DatabaseFactory = (location: string) => BenchDatabase

/** Engine names in the order they run (and appear in the report); the baseline is classic-level. */
export const ENGINE_NAMES = ['lsm-level', 'lsm-level-lowmem', 'classic-level', 'memory-level', 'ceiling', 'lsm-level-baseline'] as const

/**
 * The environment variable naming another build's lsm-level entry module (its `engine/dist/index.js`): the
 * engine `lsm-level-baseline`, so that two builds of the engine are measured side by side in one run.
 */
export const BASELINE_MODULE_ENV = 'LSM_LEVEL_BASELINE_MODULE'

/**
 * lsm-level's low-memory profile: tables built on the main thread (no worker heap), LevelDB's 8 MiB block
 * cache, one frozen memtable. Shown beside the defaults so the memory/speed trade-off is visible.
 */
export const LOW_MEMORY_OPTIONS = { backgroundThread: false, blockCacheSize: 8 * 1024 * 1024, maxImmutableMemtables: 1 }

/** One of the compared engines. */
export type EngineName = typeof ENGINE_NAMES[number]

/** The engine every ratio is taken against. */
export const BASELINE_ENGINE: EngineName = 'classic-level'

/** What runs without --engines: every engine but lsm-level-baseline, which needs BASELINE_MODULE_ENV. */
export const DEFAULT_ENGINES: EngineName[] = ENGINE_NAMES.filter(name => name !== 'lsm-level-baseline')

/** Whether name is a known engine. */
export function isEngineName (name: string): name is EngineName {
  return (ENGINE_NAMES as readonly string[]).includes(name)
}

/**
 * Loads an engine's module and returns its factory; rejects if the module is missing (as
 * lsm-level is until engine/ has been built). Every engine gets its default options.
 */
export async function loadEngine (name: EngineName): Promise<DatabaseFactory> {
  switch (name) {
    case 'lsm-level':
    case 'lsm-level-lowmem': {
      // A computed specifier: tools must compile whether or not engine/ has been built yet.
      const specifier: string = 'lsm-level'
      const { LsmLevel } = await import(specifier) as { LsmLevel?: new (location: string, options?: object) => BenchDatabase }
      if (typeof LsmLevel !== 'function') throw new Error("module 'lsm-level' does not export a class LsmLevel")
      const options = name === 'lsm-level' ? {} : LOW_MEMORY_OPTIONS
      return location => new LsmLevel(location, options)
    }
    case 'lsm-level-baseline': {
      const path = process.env[BASELINE_MODULE_ENV]
      if (path === undefined || path === '') throw new Error(`set ${BASELINE_MODULE_ENV} to another build's engine/dist/index.js`)
      const { LsmLevel } = await import(pathToFileURL(path).href) as { LsmLevel?: new (location: string, options?: object) => BenchDatabase }
      if (typeof LsmLevel !== 'function') throw new Error(`${path} does not export a class LsmLevel`)
      return location => new LsmLevel(location, {})
    }
    case 'classic-level': {
      const { ClassicLevel } = await import('classic-level')
      return location => new ClassicLevel<string, string>(location, {}) as unknown as BenchDatabase
    }
    case 'memory-level': {
      const { MemoryLevel } = await import('memory-level')
      return () => new MemoryLevel<string, string>() as unknown as BenchDatabase
    }
    case 'ceiling': {
      const { MapLevel } = await import('./map-level.js')
      return location => new MapLevel(location) as unknown as BenchDatabase
    }
  }
}
