import { pino } from 'pino'
import { expect, test } from 'vitest'
import { HintStore } from '../../../gateway/src/handoff/hint-store.js'
import { NodeStorage } from '../../../gateway/src/replica/node-storage.js'
import { liveSiblings, type StoredObject } from '../../../gateway/src/replica/stored-object.js'
import { tempDirPerTest } from '../../support/temp-dir.js'

// Hints in the engine (handoff/hint-store.ts): kept per owner and key, merged (DVV) when a key is
// hinted twice, counted per owner, found by key for a fallback's reads, removed only when unchanged
// since delivery, and still there after the engine is closed and reopened.

const logger = pino({ level: 'silent' })
const tempDir = tempDirPerTest('levelring-hints')

/** A set holding one value written by `actor` as its `counter`th write. */
function written (actor: string, counter: number, text: string): StoredObject {
  return {
    clock: new Map([[actor, { counter, timestamp: 0 }]]),
    siblings: [{ dot: { actor, counter }, value: { tombstone: false, contentType: 'text/plain', lastModified: counter, value: Buffer.from(text) } }]
  }
}

const values = (o: StoredObject | undefined): string[] => o === undefined ? [] : liveSiblings(o).map((s) => Buffer.from(s.value.value).toString()).sort()

test('hints merge per owner and key, are found by key, removed only when unchanged, and survive a reopen', async () => {
  const dir = tempDir()
  let storage = await NodeStorage.open(dir)
  let hints = await HintStore.open(storage, logger)
  await hints.add('b', 'k1', written('x@1', 1, 'one'), false)
  await hints.add('b', 'k1', written('y@1', 1, 'concurrent'), false) // a sibling: both kept
  await hints.add('b', 'k2', written('x@1', 2, 'two'), true)
  await hints.add('c', 'k1', written('z@1', 1, 'for c'), false)
  expect(Object.fromEntries(hints.pending())).toEqual({ b: 2, c: 1 })
  expect(hints.total).toBe(3)
  expect(values(await hints.get('b', 'k1'))).toEqual(['concurrent', 'one'])
  expect(values(await hints.forKey('k1'))).toEqual(['concurrent', 'for c', 'one'])
  expect(await hints.forKey('nothing')).toBeUndefined()
  expect((await hints.list('b', 10)).map((h) => h.key)).toEqual(['k1', 'k2'])
  expect((await hints.list('b', 10, 'k1')).map((h) => h.key)).toEqual(['k2'])

  // Delivered: the older set does not remove the grown hint; the current one does.
  expect(await hints.removeIfUnchanged('b', 'k1', written('x@1', 1, 'one'))).toBe(false)
  expect(await hints.removeIfUnchanged('b', 'k1', (await hints.get('b', 'k1'))!)).toBe(true)
  expect(Object.fromEntries(hints.pending())).toEqual({ b: 1, c: 1 })

  await storage.close()
  storage = await NodeStorage.open(dir)
  hints = await HintStore.open(storage, logger)
  expect(Object.fromEntries(hints.pending())).toEqual({ b: 1, c: 1 })
  expect(values(await hints.get('b', 'k2'))).toEqual(['two'])
  expect(await hints.removeIfUnchanged('c', 'k1', (await hints.get('c', 'k1'))!)).toBe(true)
  expect(hints.total).toBe(1)
  await storage.close()
})
