import { copyFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, expect, test } from 'vitest'
import { CLEAN_STOP_FILE, openActorEpoch, recordCleanStop, RUNNING_FILE, type OpenedEpoch } from '../../../gateway/src/node/actor-epoch.js'
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

async function life (dir: string, initial: string | undefined, clean: boolean, boot = 'boot-1'): Promise<OpenedEpoch> {
  return await withMeta(dir, async (storage) => {
    const opened = await openActorEpoch(storage.meta, dir, initial, async () => boot === '' ? undefined : boot)
    if (clean) await recordCleanStop(storage.meta, dir, opened.epoch)
    return opened
  })
}

test('a new directory starts with the given epoch; clean stops keep it; an unclean one renews it once', async () => {
  const dir = makeTempDir('levelring-epoch')
  dirs.push(dir)
  const first = await life(dir, 'abc', true)
  expect(first).toEqual({ epoch: 'abc', renewed: undefined, behind: undefined })
  expect(await life(dir, undefined, false)).toEqual({ epoch: 'abc', renewed: undefined, behind: undefined }) // after a clean stop
  const crashed = await life(dir, undefined, true) // the previous life did not stop cleanly
  expect(crashed.epoch).not.toBe('abc')
  expect(crashed.epoch).toMatch(/^[0-9a-f]{12}$/)
  expect(crashed.renewed).toMatch(/not clean/)
  expect(crashed.behind).toBeUndefined() // a process crash in place, same boot: the OS kept every write
  expect(await life(dir, undefined, true)).toEqual({ epoch: crashed.epoch, renewed: undefined, behind: undefined })
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
  expect(copied.behind).toBe(copied.renewed)
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

test('an unclean stop leaves the directory behind unless it was a process crash in place within one boot', async () => {
  const dir = makeTempDir('levelring-epoch')
  dirs.push(dir)
  await life(dir, 'abc', false)
  const inPlace = await life(dir, undefined, false)
  expect(inPlace.renewed).toMatch(/not clean/)
  expect(inPlace.behind).toBeUndefined()

  // The machine rebooted since (a power loss may have dropped writes the OS had not flushed).
  const rebooted = await life(dir, undefined, false, 'boot-2')
  expect(rebooted.behind).toMatch(/not clean/)

  // A copy of the running directory: same bytes, a new RUNNING file.
  const marker = join(dir, RUNNING_FILE)
  await copyFile(marker, `${marker}.copy`)
  await rm(marker)
  await copyFile(`${marker}.copy`, marker)
  expect((await life(dir, undefined, false, 'boot-2')).behind).toMatch(/not clean/)
  await rm(marker)
  expect((await life(dir, undefined, false, 'boot-2')).behind).toMatch(/not clean/)

  // No boot id to compare (not Linux): an unclean stop may have lost writes.
  await life(dir, undefined, false, '')
  expect((await life(dir, undefined, false, '')).behind).toMatch(/not clean/)
  // Back in place on a known boot, and a clean stop: nothing behind.
  await life(dir, undefined, false, 'boot-2')
  expect((await life(dir, undefined, true, 'boot-2')).behind).toBeUndefined()
  expect(await life(dir, undefined, false, 'boot-2')).toMatchObject({ renewed: undefined, behind: undefined })
})
