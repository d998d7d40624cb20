// Temporary directories that remove themselves: every test that touches real files takes its directory here.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeEach } from 'vitest'

/** A new empty directory under the system's temporary directory, named `<prefix>-XXXXXX`. The caller removes it. */
export function makeTempDir (prefix: string): string {
  return mkdtempSync(join(tmpdir(), `${prefix}-`))
}

/** Remove a directory and everything in it; a missing one is fine. */
export function removeDir (dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
}

/**
 * A directory for a whole test file, made now and removed after its last test. Call it at the top level of
 * the file (or inside a describe block, for that block).
 */
export function tempRoot (prefix: string): string {
  const dir = makeTempDir(prefix)
  afterAll(() => { removeDir(dir) })
  return dir
}

/**
 * A fresh directory for each test of the file (or block), removed after it: read it with the returned
 * function inside a test or a hook that runs after this one's `beforeEach`.
 */
export function tempDirPerTest (prefix: string): () => string {
  let dir: string | undefined
  beforeEach(() => { dir = makeTempDir(prefix) })
  afterEach(() => {
    if (dir !== undefined) removeDir(dir)
    dir = undefined
  })
  return () => {
    if (dir === undefined) throw new Error(`tempDirPerTest('${prefix}'): read only while a test runs`)
    return dir
  }
}

/** Run `fn` with a new directory, removed afterwards whether `fn` succeeds or throws. */
export async function withTempDir<T> (prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = makeTempDir(prefix)
  try {
    return await fn(dir)
  } finally {
    removeDir(dir)
  }
}
