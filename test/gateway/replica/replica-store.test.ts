import { pino } from 'pino'
import { afterEach, describe, expect, test } from 'vitest'
import { decodeContext, encodeContext } from '../../../gateway/src/version/causal-context.js'
import { ReplicaStore } from '../../../gateway/src/replica/replica-store.js'
import { COUNTER_LEASE, DotCounter } from '../../../gateway/src/replica/dot-counter.js'
import { decodeObject, encodeObject } from '../../../gateway/src/replica/object-codec.js'
import { NodeStorage } from '../../../gateway/src/replica/node-storage.js'
import { isDeleted, liveSiblings, type StoredObject } from '../../../gateway/src/replica/stored-object.js'
import { NOTHING_SEEN, readContext, writeContext, type CausalContext } from '../../../gateway/src/version/dvv.js'
import { DEFAULT_PRUNING, type PruningBounds } from '../../../gateway/src/version/pruning.js'
import { makeTempDir, removeDir } from '../../support/temp-dir.js'
import { storageKey, userKeyOf } from '../../../gateway/src/replica/storage-keys.js'

const opened: Array<{ storage: NodeStorage, dir: string }> = []
afterEach(async () => {
  for (const { storage, dir } of opened.splice(0)) {
    await storage.close()
    removeDir(dir)
  }
})

/** A replica store over real node storage in a temp dir, with a controllable clock. */
async function replica (actor: string, clock = { now: 1_700_000_000_000 }, pruning?: PruningBounds) {
  const dir = makeTempDir('levelring-rs')
  const storage = await NodeStorage.open(dir)
  opened.push({ storage, dir })
  const counter = await DotCounter.open(storage.meta)
  const store = new ReplicaStore(storage, { actor, counter, logger: pino({ level: 'silent' }), now: () => clock.now, pruning })
  return { store, storage, clock }
}

const text = (o: StoredObject | undefined): string[] =>
  o === undefined ? [] : liveSiblings(o).map((s) => Buffer.from(s.value.value).toString()).sort()
const value = (s: string) => ({ value: Buffer.from(s), contentType: 'text/plain' })

describe('object codec', () => {
  test('round-trips sets with values and tombstones, canonically', async () => {
    const { store } = await replica('a@1')
    await store.write('k', value('x'), NOTHING_SEEN, { sync: false })
    const { object } = await store.write('k', value('y'), NOTHING_SEEN, { sync: true })
    const bytes = encodeObject(object)
    const decoded = decodeObject('k', bytes)
    expect(decoded.clock).toEqual(object.clock)
    expect(decoded.siblings.map((s) => [s.dot, s.value.contentType, Buffer.from(s.value.value).toString()]))
      .toEqual(object.siblings.map((s) => [s.dot, s.value.contentType, Buffer.from(s.value.value).toString()]))
    expect(encodeObject(decoded).equals(bytes)).toBe(true)
    // Decoded values own their bytes: changing the encoded buffer afterwards changes nothing.
    bytes.fill(0)
    expect(text(decoded)).toEqual(['x', 'y'])
    const stored = (await store.read('k'))!
    expect(text(stored)).toEqual(['x', 'y'])
  })

  test('damaged bytes are a LEVELRING_CORRUPT_OBJECT naming the key, never a wrong set', async () => {
    const { store } = await replica('a@1')
    const { object } = await store.write('k', value('xyz'), NOTHING_SEEN, { sync: false })
    const bytes = encodeObject(object)
    for (const bad of [bytes.subarray(0, bytes.length - 1), Buffer.concat([bytes, Buffer.from([0])]), Buffer.from([9, ...bytes.subarray(1)]), Buffer.alloc(0)]) {
      expect(() => decodeObject('the/key', bad)).toThrow(expect.objectContaining({ code: 'LEVELRING_CORRUPT_OBJECT' }))
      expect(() => decodeObject('the/key', bad)).toThrow(/the\/key/)
    }
  })
})

describe('causal context tokens', () => {
  const secret = Buffer.from('0123456789abcdef0123456789abcdef')
  const ctx: CausalContext = { vv: new Map([['n1@aa', 17], ['n2@bb', 99_999_999_999]]), unseen: [{ actor: 'n1@aa', counter: 12 }] }

  test('round-trip, bound to the key and the secret', () => {
    const token = encodeContext('k', ctx, secret)
    expect(decodeContext('k', token, secret)).toEqual(ctx)
    expect(() => decodeContext('other', token, secret)).toThrow(/another key/)
    expect(() => decodeContext('k', token, Buffer.from('another secret of some length!!'))).toThrow(/does not verify/)
  })

  test('across a secret rotation: signed with the first secret of a list, verified with any of it', () => {
    const next = Buffer.from('the next secret, 0123456789abcdef')
    const before = encodeContext('k', ctx, secret)
    // First rolling restart: [old, new] still signs with the old secret; both read either.
    expect(decodeContext('k', before, [secret, next])).toEqual(ctx)
    // Second: [new, old] signs with the new one, which nodes still on [old, new] accept, and still reads the old.
    const after = encodeContext('k', ctx, [next, secret])
    expect(decodeContext('k', after, [secret, next])).toEqual(ctx)
    expect(decodeContext('k', before, [next, secret])).toEqual(ctx)
    // Once the old secret is dropped, what it signed no longer verifies.
    expect(() => decodeContext('k', before, [next])).toThrow(/does not verify/)
  })

  test('every single-byte change and every truncation is refused', () => {
    const bytes = Buffer.from(encodeContext('k', ctx, secret), 'base64url')
    for (let i = 0; i < bytes.length; i++) {
      const damaged = Buffer.from(bytes)
      damaged[i] = damaged[i]! ^ 0x01
      expect(() => decodeContext('k', damaged.toString('base64url'), secret)).toThrow()
      expect(() => decodeContext('k', bytes.subarray(0, i).toString('base64url'), secret)).toThrow()
    }
  })
})

describe('dot counter', () => {
  test('values only grow, across reopen of the same metadata, and leases are persisted before use', async () => {
    const { storage } = await replica('a@1')
    const first = await DotCounter.open(storage.meta)
    const seen: number[] = []
    for (let i = 0; i < 5; i++) seen.push(await first.next())
    const lease = Number(await storage.meta.get('dot-counter-lease'))
    expect(lease).toBeGreaterThanOrEqual(Math.max(...seen))
    const reopened = await DotCounter.open(storage.meta) // as after a crash: the rest of the lease is skipped
    const next = await reopened.next()
    expect(next).toBeGreaterThan(Math.max(...seen))
    expect(next).toBeGreaterThan(lease)
    // Crossing a lease boundary persists the next lease first.
    const values = await Promise.all(Array.from({ length: COUNTER_LEASE + 10 }, () => reopened.next()))
    expect(new Set(values).size).toBe(values.length)
    expect(Number(await storage.meta.get('dot-counter-lease'))).toBeGreaterThanOrEqual(Math.max(...values))
  })
})

describe('replica store', () => {
  test('concurrent blind writes to one key are serialized: every one is kept, with distinct growing dots', async () => {
    const { store } = await replica('a@1')
    await Promise.all(Array.from({ length: 30 }, (_, i) => store.write('hot', value(`v${i}`), NOTHING_SEEN, { sync: false })))
    const object = (await store.read('hot'))!
    expect(text(object)).toHaveLength(30)
    expect(new Set(object.siblings.map((s) => s.dot.counter)).size).toBe(30)
  })

  test('tombstones are reaped after the grace period only, and a reaped key written again is safe from old contexts', async () => {
    const { store, storage, clock } = await replica('a@1')
    const first = await store.write('gone', value('v1'), NOTHING_SEEN, { sync: false })
    const oldContext = writeContext(first.object, first.dot)
    expect(await storage.tombstones.get(storageKey('gone'))).toBeUndefined()
    await store.write('gone', null, oldContext, { sync: false })
    // The tombstone index holds exactly the deleted keys, with the tombstone's time.
    expect(await storage.tombstones.get(storageKey('gone'))).toBe(String(clock.now))
    await store.write('kept', value('live'), NOTHING_SEEN, { sync: false })
    await store.write('revived', null, NOTHING_SEEN, { sync: false })
    await store.write('revived', value('back'), NOTHING_SEEN, { sync: false })
    await store.write('gone2', null, NOTHING_SEEN, { sync: false })
    expect((await storage.tombstones.keys().all()).map(userKeyOf).sort()).toEqual(['gone', 'gone2'])
    clock.now += 59_000
    expect((await store.reapTombstones(60_000)).reaped).toBe(0)
    clock.now += 2_000
    expect((await store.reapTombstones(60_000, { mayReap: () => false })).reaped).toBe(0)
    // The index is in engine order (storageKey), not key order: whichever comes first is reaped first.
    const [firstReaped] = (await storage.tombstones.keys().all()).map(userKeyOf)
    expect(await store.reapTombstones(60_000, { maxKeys: 1 })).toEqual({ reaped: 1, inspected: 1, resumeAfter: firstReaped })
    expect(await store.reapTombstones(60_000, { after: firstReaped })).toEqual({ reaped: 1, inspected: 1, resumeAfter: undefined })
    expect(await storage.tombstones.keys().all()).toEqual([])
    expect(await store.read('gone')).toBeUndefined()
    expect(await storage.tombstones.get(storageKey('gone'))).toBeUndefined()
    expect(text(await store.read('kept'))).toEqual(['live'])
    // Re-created after reaping: a client still holding the pre-delete context cannot swallow it.
    await store.write('gone', value('reborn'), NOTHING_SEEN, { sync: false })
    await store.write('gone', value('stale writer'), oldContext, { sync: false })
    expect(text(await store.read('gone'))).toEqual(['reborn', 'stale writer'])
  })

  test('merge from other replicas converges and keeps concurrent writes; delete with a context keeps a concurrent write', async () => {
    const a = (await replica('a@1')).store
    const b = (await replica('b@1')).store
    const base = await a.write('k', value('base'), NOTHING_SEEN, { sync: false })
    await b.merge('k', base.object, { sync: false })
    const ctx = readContext(base.object)
    const fromA = await a.write('k', value('from a'), ctx, { sync: false })
    const fromB = await b.write('k', value('from b'), ctx, { sync: false })
    const mergedA = await a.merge('k', fromB.object, { sync: false })
    const mergedB = await b.merge('k', fromA.object, { sync: false })
    expect(text(mergedA)).toEqual(['from a', 'from b'])
    expect(encodeObject(mergedA).equals(encodeObject(mergedB))).toBe(true)
    // b deletes what it had seen before a's write: a's write survives the merge.
    const del = await b.write('k2', null, NOTHING_SEEN, { sync: false })
    const live = await a.write('k2', value('concurrent'), NOTHING_SEEN, { sync: false })
    expect(text(await a.merge('k2', del.object, { sync: false }))).toEqual(['concurrent'])
    expect(text(await b.merge('k2', live.object, { sync: false }))).toEqual(['concurrent'])
  })

  test('clocks grown by many actors are pruned on write within the documented bounds', async () => {
    const clock = { now: 1_700_000_000_000 }
    const target = await replica('target@1', clock)
    for (let i = 0; i < 14; i++) {
      const other = await replica(`writer${i}@1`, clock)
      const w = await other.store.write('k', value(`w${i}`), NOTHING_SEEN, { sync: false })
      await target.store.merge('k', w.object, { sync: false })
    }
    const before = (await target.store.read('k'))!
    expect(before.clock.size).toBe(14)
    // Resolve every sibling, then let the writers' entries age past `old`.
    await target.store.write('k', value('resolved'), readContext(before), { sync: false })
    clock.now += DEFAULT_PRUNING.oldMs + 1
    const after = await target.store.write('k', value('later'), readContext((await target.store.read('k'))!), { sync: false })
    expect(after.object.clock.size).toBe(DEFAULT_PRUNING.small)
    expect(after.object.clock.has('target@1')).toBe(true)
    expect(text(after.object)).toEqual(['later'])
  })

  test('pruning never drops the clock entry that makes a delete dominate: a replica that missed the delete gets the tombstone, not the value back', async () => {
    const clock = { now: 1_700_000_000_000 }
    const tight: PruningBounds = { small: 1, big: 1, youngMs: 1_000, oldMs: 1_000 }
    const writer = await replica('writer@1', clock, tight)
    const deleter = await replica('deleter@1', clock, tight)
    const missed = await replica('missed@1', clock, tight)
    const put = await writer.store.write('k', value('deleted value'), NOTHING_SEEN, { sync: false })
    await deleter.store.merge('k', put.object, { sync: false })
    await missed.store.merge('k', put.object, { sync: false })
    clock.now += 10_000 // the writer's entry is old now: prunable under these bounds
    const del = await deleter.store.write('k', null, readContext(put.object), { sync: false })
    const merged = await missed.store.merge('k', del.object, { sync: false })
    expect(text(merged)).toEqual([])
    expect(isDeleted(merged)).toBe(true)
    expect(del.object.clock.has('writer@1')).toBe(true)
  })

  test('merge prunes too: a set arriving with a clock past the bounds is stored within them', async () => {
    const clock = { now: 1_700_000_000_000 }
    const bounds: PruningBounds = { small: 2, big: 3, youngMs: 1_000, oldMs: 86_400_000 }
    const target = await replica('target@1', clock, bounds)
    let incoming: StoredObject | undefined
    for (let i = 0; i < 8; i++) {
      const other = await replica(`writer${i}@1`, clock)
      const w = await other.store.write('k', value(`w${i}`), incoming === undefined ? NOTHING_SEEN : readContext(incoming), { sync: false })
      incoming = w.object
    }
    expect(incoming!.clock.size).toBe(8)
    clock.now += 10_000
    const stored = await target.store.merge('k', incoming!, { sync: false })
    // Entries folded in from contexts carry no timestamp (the oldest): past `old`, dropped down to `small`.
    expect(stored.clock.size).toBe(bounds.small)
    expect(stored.clock.has('writer7@1')).toBe(true)
    expect((await target.store.read('k'))!.clock.size).toBe(bounds.small)
    expect(text(stored)).toEqual(['w7'])
  })
})

describe('a fallback stamp (stamp over the hints it holds)', () => {
  // The primary that later receives the fallback's writes: merging them must keep every one acknowledged.
  test('two stamps over the same (empty) base keep both versions when merged at the primary', async () => {
    const { store: fallback } = await replica('f@1')
    const { store: primary } = await replica('p@1')
    // Both writes read the hints before either is stored as one: the same base for both.
    const [w1, w2] = await Promise.all([
      fallback.stamp('k', value('e1'), NOTHING_SEEN, undefined),
      fallback.stamp('k', value('e2'), NOTHING_SEEN, undefined)
    ])
    await primary.merge('k', w1.object, { sync: false })
    await primary.merge('k', w2.object, { sync: false })
    expect(text(await primary.read('k'))).toEqual(['e1', 'e2'])
  })

  test("a later stamp over hints that no longer hold the first (delivered, dropped) does not claim to have seen it", async () => {
    const { store: fallback } = await replica('f@1')
    const { store: primary } = await replica('p@1')
    const first = await fallback.stamp('k', value('e1'), NOTHING_SEEN, undefined)
    await primary.merge('k', first.object, { sync: false })
    // The hint was delivered and dropped; a later partition makes the same node stamp the key again.
    const second = await fallback.stamp('k', value('e2'), NOTHING_SEEN, undefined)
    await primary.merge('k', second.object, { sync: false })
    expect(text(await primary.read('k'))).toEqual(['e1', 'e2'])
    expect(second.dot.actor).not.toBe(first.dot.actor)
  })
})
