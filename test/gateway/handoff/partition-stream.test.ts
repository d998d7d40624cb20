import { expect, test } from 'vitest'
import { decodePartitionPage, PAGE_KEYS, readPartitionPage, StreamCounters } from '../../../gateway/src/handoff/partition-stream.js'
import { encodeObject } from '../../../gateway/src/replica/object-codec.js'
import { NodeStorage, type ObjectWalk } from '../../../gateway/src/replica/node-storage.js'
import { partitionOf } from '../../../gateway/src/ring/partition.js'
import type { StoredObject } from '../../../gateway/src/replica/stored-object.js'
import { tempDirPerTest } from '../../support/temp-dir.js'

// The source side of partition streaming (handoff/partition-stream.ts): a page is a walk of the
// requested partitions' ranges only, in engine order, resumable from any key it gave.

const tempDir = tempDirPerTest('levelring-stream')
const Q = 8

function written (text: string): StoredObject {
  const actor = 'seed@000000000000'
  return {
    clock: new Map([[actor, { counter: 1, timestamp: 0 }]]),
    siblings: [{ dot: { actor, counter: 1 }, value: { tombstone: false, contentType: 'text/plain', lastModified: 1, value: Buffer.from(text) } }]
  }
}

test('pages walk only the requested partitions, in engine order, and resume from the cursor they give', async () => {
  const storage = await NodeStorage.open(tempDir())
  try {
    const keys = Array.from({ length: 3_000 }, (_, i) => `k-${i}`)
    for (const key of keys) await storage.writeObject(key, encodeObject(written(key)), undefined, false)
    // Count what the walk reads: every entry any page's walk yields.
    let read = 0
    const counting = {
      async * objectEntries (walk?: ObjectWalk): AsyncGenerator<[string, Uint8Array]> {
        for await (const entry of storage.objectEntries(walk)) { read++; yield entry }
      }
    }
    const wanted = [5, 2]
    const counters = new StreamCounters()
    const got: string[] = []
    let after: string | undefined
    let pages = 0
    do {
      const page = decodePartitionPage(await readPartitionPage(counting, { partitionCount: Q, partitions: wanted, ...(after === undefined ? {} : { after }) }, counters))
      expect(page.entries.length).toBeLessThanOrEqual(PAGE_KEYS)
      got.push(...page.entries.map((e) => e.key))
      after = page.next
      pages++
    } while (after !== undefined)
    const expected = keys.filter((k) => wanted.includes(partitionOf(k, Q)))
    expect(got.slice().sort()).toEqual(expected.slice().sort())
    expect(new Set(got).size).toBe(got.length)
    // Partition 2 first, then 5: ascending partitions, each one range.
    const parts = got.map((k) => partitionOf(k, Q))
    expect(parts).toEqual(parts.slice().sort((a, b) => a - b))
    // Nothing of another partition was read; a page reads at most one entry past its last.
    expect(read).toBeLessThanOrEqual(expected.length + pages)
    expect(counters).toMatchObject({ pagesServed: pages, partitionsRead: 2 })
    expect(pages).toBe(Math.ceil(expected.length / PAGE_KEYS))
  } finally {
    await storage.close()
  }
})

test("a page says when its source is rebuilding one of its partitions (a receiver then does not take it as the partition's whole)", async () => {
  const storage = await NodeStorage.open(tempDir())
  try {
    for (let i = 0; i < 200; i++) await storage.writeObject(`r-${i}`, encodeObject(written(`r-${i}`)), undefined, false)
    const rebuilding = (p: number): boolean => p === 3
    const page = async (partitions: number[]) => decodePartitionPage(await readPartitionPage(storage, { partitionCount: Q, partitions }, undefined, rebuilding))
    expect((await page([3])).incomplete).toBe(true)
    expect((await page([1, 3])).incomplete).toBe(true)
    const whole = await page([1])
    expect(whole.incomplete).toBe(false)
    expect(whole.entries.length).toBeGreaterThan(0)
    expect(decodePartitionPage(await readPartitionPage(storage, { partitionCount: Q, partitions: [3] })).incomplete).toBe(false)
  } finally {
    await storage.close()
  }
})
