// What close() leaves behind matters to whoever opens the directory next, a repair above all: it keeps every
// table it finds, so an obsolete table still on disk would bring back data that compaction had deleted.
import { describe, it, expect } from 'vitest'
import { join } from 'node:path'
import { LsmLevel } from 'lsm-level'
import { liveTables, tables } from './fixtures/damage.js'
import { tempRoot } from '../../support/temp-dir.js'

const root = tempRoot('lsm-close')

describe('close()', () => {
  it('has deleted every obsolete table when it resolves, so a repair right after resurrects no deleted key', async () => {
    for (let round = 0; round < 5; round++) {
      const dir = join(root, `db${round}`)
      const db = new LsmLevel<string, string>(dir, { blockSize: 256, maxFileSize: 8192 })
      // Four overlapping flushes, then deletes of half the keys, then a compaction that drops the deleted keys
      // for good and leaves the flushed tables obsolete.
      for (let r = 0; r < 4; r++) {
        await db.batch(Array.from({ length: 100 }, (_, i) => ({ type: 'put' as const, key: `k${String(i * 4 + r).padStart(3, '0')}`, value: 'x'.repeat(100) })))
        await db.flush()
      }
      await db.batch(Array.from({ length: 200 }, (_, i) => ({ type: 'del' as const, key: `k${String(i * 2).padStart(3, '0')}` })))
      await db.compactRange('', '\xff')
      await db.close()
      expect(tables(dir)).toEqual(liveTables(dir).sort())

      await LsmLevel.repair(dir)
      const again = new LsmLevel<string, string>(dir)
      await again.open()
      const keys = await again.keys().all()
      expect(keys).toHaveLength(200)
      expect(keys.every((k) => Number(k.slice(1)) % 2 === 1)).toBe(true)
      await again.close()
    }
  })
})
