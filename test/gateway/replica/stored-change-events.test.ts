import { pino } from 'pino'
import { expect, test } from 'vitest'
import { ReplicaStore, type StoredChange } from '../../../gateway/src/replica/replica-store.js'
import { DotCounter } from '../../../gateway/src/replica/dot-counter.js'
import { encodeObject } from '../../../gateway/src/replica/object-codec.js'
import { NodeStorage } from '../../../gateway/src/replica/node-storage.js'
import { NOTHING_SEEN } from '../../../gateway/src/version/dvv.js'
import { withTempDir } from '../../support/temp-dir.js'

// ReplicaStore.onStored is where anti-entropy keeps its Merkle trees current: every
// change a store makes (stamp, merge, reap) is reported with the bytes stored, in order per key,
// and a merge that changes nothing reports nothing.

test('stamps, merges and reaps are reported with the stored bytes; no-op merges are not; unsubscribe works', async () => {
  await withTempDir('levelring-events', async (dir) => {
    const storage = await NodeStorage.open(dir)
    try {
      const clock = { now: 1_700_000_000_000 }
      const store = new ReplicaStore(storage, { actor: 'a@1', counter: await DotCounter.open(storage.meta), logger: pino({ level: 'silent' }), now: () => clock.now })
      const changes: StoredChange[] = []
      const unsubscribe = store.onStored((c) => changes.push(c))

      const first = await store.write('k', { value: Buffer.from('x'), contentType: 'text/plain' }, NOTHING_SEEN, { sync: false })
      expect(changes).toHaveLength(1)
      expect(changes[0]!.key).toBe('k')
      expect(Buffer.from(changes[0]!.bytes!)).toEqual(encodeObject(first.object))
      expect(Buffer.from(changes[0]!.bytes!)).toEqual(Buffer.from((await storage.getObject('k'))!))

      await store.merge('k', first.object, { sync: false }) // holds it already: nothing stored, nothing reported
      expect(changes).toHaveLength(1)

      const deleted = await store.write('k', null, 'current', { sync: false })
      expect(changes.map((c) => c.object)).toEqual([first.object, deleted.object])
      clock.now += 10_000
      expect((await store.reapTombstones(5_000)).reaped).toBe(1)
      expect(changes[2]).toEqual({ key: 'k', object: undefined, bytes: undefined })

      unsubscribe()
      await store.write('other', { value: Buffer.from('y'), contentType: 'text/plain' }, NOTHING_SEEN, { sync: false })
      expect(changes).toHaveLength(3)
    } finally {
      await storage.close()
    }
  })
})
