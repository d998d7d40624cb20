import { it, expect } from 'vitest'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
// The built package, so flushes and compactions run on the background worker thread.
import { LsmLevel } from '../../../engine/dist/index.js'
import { tempRoot } from '../../support/temp-dir.js'

const root = tempRoot('lsm-worker-close')

it('worker thread: close() during a manual compaction of level 0 returns', async () => {
  const db = new LsmLevel(join(root, 'db'), { writeBufferSize: 8 * 1024 * 1024, level0CompactionTrigger: 8, level0SlowdownTrigger: 8, level0StopTrigger: 12 })
  await db.open()
  for (let gen = 0; gen < 3; gen++) {
    await db.batch(Array.from({ length: 20000 }, (_, i) => ({ type: 'put', key: `k${String(i).padStart(6, '0')}`, value: `v${gen}` })))
    await db.flush()
  }
  expect(db.getProperty('lsm.num-files-at-level0')).toBe(1)
  const manual = db.compactRange('k', 'l').catch((e: Error) => e)
  await sleep(5)
  const r = await Promise.race([db.close().then(() => 'closed'), sleep(3000).then(() => 'hung')])
  expect(r).toBe('closed')
  await manual
})
