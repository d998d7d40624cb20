/**
 * Helpers for the tools tests: run the built `levelring` command as a child process (npm test builds
 * first: bin/levelring.js -> dist/tools/src/cli.js), and write a database with known contents using the
 * engine, small enough to be quick and shaped to have several tables on several levels.
 */
import { levelring, type Run } from '../support/levelring-command.js'
import { LsmLevel } from 'lsm-level'
import { expect } from 'vitest'

export { levelring, type Run } from '../support/levelring-command.js'

/** Runs a command that must succeed and returns its stdout parsed as the one JSON document it printed. */
export async function levelringJson<T = any> (args: readonly string[]): Promise<T> {
  const r = await levelring([...args, '--json'])
  expect(r.stderr, `levelring ${args.join(' ')}`).toBe('')
  expect(r.code, `levelring ${args.join(' ')}`).toBe(0)
  return JSON.parse(r.stdout) as T
}

/** Asserts the run failed the way an operator should see: exit 1, one line on stderr matching `pattern`, no stack trace. */
export function expectOneLineFailure (r: Run, pattern: RegExp): void {
  expect(r.code).toBe(1)
  expect(r.stderr).toMatch(/^levelring: [^\n]*\n$/)
  expect(r.stderr).toMatch(pattern)
  expect(r.stderr).not.toMatch(/\n\s+at /)
}

/** Keys written to the known database: key00000 .. key00599. */
export const KEY_COUNT = 600

export function keyOf (i: number): string { return `key${String(i).padStart(5, '0')}` }
export function valueOf (i: number): string { return `value-${i}-${'v'.repeat(24)}` }

/** Every tenth key is deleted after it was written. */
export function isDeleted (i: number): boolean { return i % 10 === 0 }

/** Keys live in the known database: the undeleted ones plus one written after the last flush. */
export const LIVE_KEYS = KEY_COUNT - KEY_COUNT / 10 + 1

/** The key and value written last, after the flush: they are only in the commit log. */
export const LOG_ONLY = { key: 'zz-in-the-log', value: 'only in the commit log' } as const

/**
 * Writes the known database in dir: KEY_COUNT puts, every tenth key deleted, a flush (tables on several
 * levels: 8 KiB memtables, 1 KiB blocks, a 32 KiB level 1), then LOG_ONLY, which stays in the commit log.
 * Returns the last sequence number.
 */
export async function writeKnownDatabase (dir: string): Promise<number> {
  const db = new LsmLevel(dir, { writeBufferSize: 8 * 1024, blockSize: 1024, maxFileSize: 8 * 1024, maxBytesForLevelBase: 32 * 1024 })
  await db.open()
  for (let i = 0; i < KEY_COUNT; i += 50) {
    await db.batch(Array.from({ length: 50 }, (_, j) => ({ type: 'put' as const, key: keyOf(i + j), value: valueOf(i + j) })))
  }
  for (let i = 0; i < KEY_COUNT; i++) if (isDeleted(i)) await db.del(keyOf(i))
  await db.flush()
  await db.put(LOG_ONLY.key, LOG_ONLY.value)
  const seq = db.getProperty('lsm.sequence') as number
  await db.close()
  return seq
}
