import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { pino } from 'pino'
import { request } from 'undici'
import { expect, test } from 'vitest'
import { versionHash } from '../../../gateway/src/anti-entropy/version-hash.js'
import { decodeHandover, decodePartitionPage, encodeHandover, encodeOffer, HANDOVER_PATH, OFFER_PATH, PAGE_KEYS, PAGE_MEDIA_TYPE, partitionStreamRoute, readPartitionPage, StreamCounters } from '../../../gateway/src/handoff/partition-stream.js'
import { DotCounter } from '../../../gateway/src/replica/dot-counter.js'
import { ReplicaStore } from '../../../gateway/src/replica/replica-store.js'
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
    let bytes = 0
    do {
      const body = await readPartitionPage(counting, { partitionCount: Q, partitions: wanted, ...(after === undefined ? {} : { after }) }, counters)
      bytes += body.length
      const page = decodePartitionPage(body)
      expect(page.bytes).toBe(body.length)
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
    expect(counters).toMatchObject({ pagesServed: pages, partitionsRead: 2, bytesServed: bytes })
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

test('an offer of keys by version hash answers the ones the receiver lacks or holds in another version, after an fsync; those objects then merge', async () => {
  const storage = await NodeStorage.open(tempDir())
  const store = new ReplicaStore(storage, { actor: 'b@1', counter: await DotCounter.open(storage.meta), logger: pino({ level: 'silent' }) })
  const counters = new StreamCounters()
  let syncs = 0
  const route = partitionStreamRoute({ storage, store, counters, syncLog: async () => { syncs++ }, maxBodyBytes: 1024 * 1024 })
  const server = createServer((req, res) => {
    const readBody = async (): Promise<Buffer> => { const chunks: Buffer[] = []; for await (const c of req) chunks.push(c as Buffer); return Buffer.concat(chunks) }
    route.handle(req, res, req.url!, readBody).catch((err: Error) => { res.writeHead(500).end(err.message) })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const post = async (path: string, body: Buffer): Promise<{ status: number, body: Buffer }> => {
    const res = await request(`http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`, { method: 'POST', body, headers: { 'content-type': PAGE_MEDIA_TYPE } })
    return { status: res.statusCode, body: Buffer.from(await res.body.arrayBuffer()) }
  }
  try {
    // The receiver holds k0 and k1 as offered, another version of k2, and no k3.
    const offered = ['k0', 'k1', 'k2', 'k3'].map((key) => ({ key, object: written(`${key}-v2`) }))
    await store.merge('k0', offered[0]!.object, { sync: false })
    await store.merge('k1', offered[1]!.object, { sync: false })
    const other = written('k2-v1')
    await store.merge('k2', { clock: new Map([['other@000000000000', { counter: 1, timestamp: 0 }]]), siblings: [{ ...other.siblings[0]!, dot: { actor: 'other@000000000000', counter: 1 } }] }, { sync: false })
    const answer = await post(OFFER_PATH, encodeOffer(offered.map(({ key, object }) => ({ key, hash: versionHash(encodeObject(object)) }))))
    expect(answer.status).toBe(200)
    // u8 format | varint count | varint indexes: k2 and k3.
    expect([...answer.body]).toEqual([1, 2, 2, 3])
    expect(syncs).toBe(1)
    expect(counters.offeredKeysHeld).toBe(2)
    // The wanted objects then go as a hand-over batch, and merge.
    const batch = encodeHandover([offered[2]!, offered[3]!])
    expect(decodeHandover(batch).map((e) => e.key)).toEqual(['k2', 'k3'])
    expect((await post(HANDOVER_PATH, batch)).status).toBe(204)
    expect(counters.handoverKeysReceived).toBe(2)
    const again = await post(OFFER_PATH, encodeOffer(offered.map(({ key, object }) => ({ key, hash: versionHash(encodeObject(object)) }))))
    // k2 now holds both versions (concurrent), so it differs from the offered one still; k3 is as offered.
    expect([...again.body]).toEqual([1, 1, 2])
    // An offer of keys it holds none of needs no fsync (nothing it answers lets the sender drop a copy).
    expect(syncs).toBe(3) // the first offer, the hand-over, the second offer
    await post(OFFER_PATH, encodeOffer([{ key: 'k9', hash: versionHash(encodeObject(offered[0]!.object)) }]))
    expect(syncs).toBe(3)
    // A malformed offer is refused (the internode router answers the error as a 400).
    expect((await post(OFFER_PATH, Buffer.from([1, 5, 0]))).status).toBe(500)
    expect(counters.offeredKeysHeld).toBe(2 + 3)
  } finally {
    server.close()
    await storage.close()
  }
})
