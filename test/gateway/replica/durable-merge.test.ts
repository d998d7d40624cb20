import { MemoryFileSystem } from 'lsm-level'
import { pino } from 'pino'
import { expect, test } from 'vitest'
import { HintStore } from '../../../gateway/src/handoff/hint-store.js'
import { DotCounter } from '../../../gateway/src/replica/dot-counter.js'
import { NodeStorage } from '../../../gateway/src/replica/node-storage.js'
import { ReplicaStore } from '../../../gateway/src/replica/replica-store.js'
import { NOTHING_SEEN } from '../../../gateway/src/version/dvv.js'

// A durable acknowledgement (dw, or the owner's answer that lets a hint be deleted) of a merge that
// changed nothing must still rest on durable state: what is held may have been stored without an
// fsync. Power loss is lsm-level's MemoryFileSystem.crash(): every byte not fsynced is gone.

const logger = pino({ level: 'silent' })
const value = { value: Buffer.from('held'), contentType: 'text/plain' }

async function open (fs: MemoryFileSystem): Promise<{ storage: NodeStorage, store: ReplicaStore }> {
  const storage = await NodeStorage.open('/node', fs)
  const store = new ReplicaStore(storage, { actor: 'a@1', counter: await DotCounter.open(storage.meta), logger })
  return { storage, store }
}

test('a synced merge that changes nothing still makes the held version durable', async () => {
  const fs = new MemoryFileSystem()
  const { store } = await open(fs)
  const { object } = await store.write('k', value, NOTHING_SEEN, { sync: false })
  await store.merge('k', object, { sync: true }) // acknowledged as durable (dw, a hint delivered here)
  fs.crash()
  const { storage, store: after } = await open(fs)
  expect(await after.read('k')).toBeDefined()
  await storage.close()
})

test('a synced hint that changes nothing still makes the held hint durable', async () => {
  const fs = new MemoryFileSystem()
  const { storage, store } = await open(fs)
  const hints = await HintStore.open(storage, logger)
  const { object } = await store.write('k', value, NOTHING_SEEN, { sync: true })
  await hints.add('owner', 'k', object, false)
  await hints.add('owner', 'k', object, true)
  fs.crash()
  const reopened = await NodeStorage.open('/node', fs)
  expect(await (await HintStore.open(reopened, logger)).get('owner', 'k')).toBeDefined()
  await reopened.close()
})
