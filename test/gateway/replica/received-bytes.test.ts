import { FaultInjectingFileSystem, MemoryFileSystem } from 'lsm-level'
import { pino } from 'pino'
import { expect, test } from 'vitest'
import { DotCounter } from '../../../gateway/src/replica/dot-counter.js'
import { NodeStorage } from '../../../gateway/src/replica/node-storage.js'
import { decodeObject, encodeObject } from '../../../gateway/src/replica/object-codec.js'
import { ReplicaStore, sameEncoding, type StoredChange } from '../../../gateway/src/replica/replica-store.js'
import { NOTHING_SEEN } from '../../../gateway/src/version/dvv.js'

// A replica write carries the set in the object codec's bytes. The stamping replica sends the bytes it
// stored, and a receiving replica stores them as they are when its merge leaves the set as received; in
// every case what a replica stores must be exactly the encoding of the set it holds (the key hash index
// and digest reads hash those bytes).

const logger = pino({ level: 'silent' })
const value = (text: string): { value: Buffer, contentType: string } => ({ value: Buffer.from(text), contentType: 'text/plain' })

async function open (actor: string): Promise<{ storage: NodeStorage, store: ReplicaStore, stored: StoredChange[] }> {
  const storage = await NodeStorage.open('/node', new MemoryFileSystem())
  const store = new ReplicaStore(storage, { actor, counter: await DotCounter.open(storage.meta), logger })
  const stored: StoredChange[] = []
  store.onStored((change) => stored.push(change))
  return { storage, store, stored }
}

test('a stamped write returns the bytes it stored: the encoding of its set', async () => {
  const a = await open('a@1')
  const stamped = await a.store.write('k', value('one'), NOTHING_SEEN, { sync: false })
  expect(Buffer.from(stamped.bytes!)).toEqual(encodeObject(stamped.object))
  expect(Buffer.from((await a.storage.getObject('k'))!)).toEqual(encodeObject(stamped.object))
  await a.storage.close()
})

test('a merge that leaves the set as received stores the received bytes themselves; one that changes it stores its own encoding', async () => {
  const a = await open('a@1')
  const b = await open('b@1')
  const first = await a.store.write('k', value('one'), NOTHING_SEEN, { sync: false })
  const received = Buffer.from(first.bytes!)
  // A fresh key: the merge keeps the set as received, so the received buffer is what gets stored.
  await b.store.merge('k', decodeObject('k', received, false), { sync: true }, received)
  expect(b.stored.at(-1)!.bytes).toBe(received)
  expect(Buffer.from((await b.storage.getObject('k'))!)).toEqual(received)

  // A later write of the same key that saw the first: again kept as received.
  const second = await a.store.write('k', value('two'), 'current', { sync: false })
  const again = Buffer.from(second.bytes!)
  await b.store.merge('k', decodeObject('k', again, false), { sync: false }, again)
  expect(b.stored.at(-1)!.bytes).toBe(again)

  // A concurrent write stamped on b: the merge of a's next write makes siblings, a set neither side sent.
  await b.store.write('k', value('b-side'), NOTHING_SEEN, { sync: false })
  const third = await a.store.write('k', value('three'), 'current', { sync: false })
  const sent = Buffer.from(third.bytes!)
  const merged = await b.store.merge('k', decodeObject('k', sent, false), { sync: false }, sent)
  expect(merged.siblings).toHaveLength(2)
  const storedBytes = Buffer.from((await b.storage.getObject('k'))!)
  expect(storedBytes).not.toEqual(sent)
  expect(storedBytes).toEqual(encodeObject(merged))
  await a.storage.close()
  await b.storage.close()
})

test('sets encode alike exactly when sameEncoding says so', async () => {
  const a = await open('a@1')
  const { object } = await a.store.write('k', value('one'), NOTHING_SEEN, { sync: false })
  const copy = decodeObject('k', encodeObject(object))
  expect(sameEncoding(copy, object)).toBe(true)
  const later = { clock: new Map([...object.clock].map(([actor, e]) => [actor, { ...e, timestamp: e.timestamp + 1 }])), siblings: object.siblings }
  expect(sameEncoding(later, object)).toBe(false)
  const otherValue = { clock: object.clock, siblings: object.siblings.map((s) => ({ ...s, value: { ...s.value, value: Buffer.from('onf') } })) }
  expect(sameEncoding(otherValue, object)).toBe(false)
  expect(encodeObject(otherValue)).not.toEqual(encodeObject(object))
  await a.storage.close()
})

test('durable replica writes that arrive together share fsyncs, and each is durable once acknowledged', async () => {
  const memory = new MemoryFileSystem()
  const fs = new FaultInjectingFileSystem(memory)
  const storage = await NodeStorage.open('/replica', fs)
  const store = new ReplicaStore(storage, { actor: 'b@1', counter: await DotCounter.open(storage.meta), logger })
  const a = await open('a@1')
  const sets = await Promise.all(Array.from({ length: 32 }, async (_, i) => await a.store.write(`k${i}`, value(`v${i}`), NOTHING_SEEN, { sync: false })))
  const before = fs.calls.sync
  // As a replica serves 32 dw writes from its frame connections: all in flight at once.
  await Promise.all(sets.map(async (s, i) => await store.merge(`k${i}`, decodeObject(`k${i}`, Buffer.from(s.bytes!), false), { sync: true }, Buffer.from(s.bytes!))))
  const syncs = fs.calls.sync - before
  expect(syncs).toBeGreaterThanOrEqual(1)
  expect(syncs).toBeLessThanOrEqual(3)
  memory.crash() // power loss: everything not fsynced is gone
  const reopened = await NodeStorage.open('/replica', memory)
  for (let i = 0; i < 32; i++) expect(Buffer.from((await reopened.getObject(`k${i}`))!)).toEqual(Buffer.from(sets[i]!.bytes!))
  await reopened.close()
  await a.storage.close()
})
