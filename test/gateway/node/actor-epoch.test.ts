import { copyFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, expect, test } from 'vitest'
import { CLEAN_STOP_FILE, openActorEpoch, recordCleanStop } from '../../../gateway/src/node/actor-epoch.js'
import { NodeStorage } from '../../../gateway/src/replica/node-storage.js'
import { makeTempDir, removeDir } from '../../support/temp-dir.js'

// The actor epoch's decision, over a real data directory: kept only after a clean stop this very
// directory recorded, renewed otherwise, and decided (durably) before the node stamps anything.

const dirs: string[] = []
afterEach(() => { for (const d of dirs.splice(0)) removeDir(d) })

async function withMeta<T> (dir: string, fn: (storage: NodeStorage) => Promise<T>): Promise<T> {
  const storage = await NodeStorage.open(dir)
  try { return await fn(storage) } finally { await storage.close() }
}

async function life (dir: string, initial: string | undefined, clean: boolean): Promise<{ epoch: string, renewed: string | undefined }> {
  return await withMeta(dir, async (storage) => {
    const opened = await openActorEpoch(storage.meta, dir, initial)
    if (clean) await recordCleanStop(storage.meta, dir, opened.epoch)
    return opened
  })
}

test('a new directory starts with the given epoch; clean stops keep it; an unclean one renews it once', async () => {
  const dir = makeTempDir('levelring-epoch')
  dirs.push(dir)
  const first = await life(dir, 'abc', true)
  expect(first).toEqual({ epoch: 'abc', renewed: undefined })
  expect(await life(dir, undefined, false)).toEqual({ epoch: 'abc', renewed: undefined }) // after a clean stop
  const crashed = await life(dir, undefined, true) // the previous life did not stop cleanly
  expect(crashed.epoch).not.toBe('abc')
  expect(crashed.epoch).toMatch(/^[0-9a-f]{12}$/)
  expect(crashed.renewed).toMatch(/not clean/)
  expect(await life(dir, undefined, true)).toEqual({ epoch: crashed.epoch, renewed: undefined })
})

test('a marker file that is not the one the clean stop wrote (a copy), or none, renews the epoch', async () => {
  const dir = makeTempDir('levelring-epoch')
  dirs.push(dir)
  await life(dir, 'abc', true)
  const marker = join(dir, CLEAN_STOP_FILE)
  await copyFile(marker, `${marker}.copy`)
  await rm(marker)
  await copyFile(`${marker}.copy`, marker) // same bytes, a new file: what a restore writes
  const copied = await life(dir, undefined, true)
  expect(copied.epoch).not.toBe('abc')
  expect(copied.renewed).toMatch(/copied or restored/)
  await rm(marker)
  const missing = await life(dir, undefined, true)
  expect(missing.epoch).not.toBe(copied.epoch)
  expect(missing.renewed).toMatch(/missing/)
})

test('a directory that never had an epoch gets a new one', async () => {
  const dir = makeTempDir('levelring-epoch')
  dirs.push(dir)
  const opened = await life(dir, undefined, false)
  expect(opened.epoch).toMatch(/^[0-9a-f]{12}$/)
  expect(opened.renewed).toMatch(/no actor epoch/)
})
