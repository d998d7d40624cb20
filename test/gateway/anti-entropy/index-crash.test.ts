import { pino } from 'pino'
import { expect, test } from 'vitest'
import { KeyHashIndex } from '../../../gateway/src/anti-entropy/key-hash-index.js'
import { bucketHashesFromObjects, checkKeyHashIndex } from '../../../gateway/src/anti-entropy/index-check.js'
import { PartitionTrees } from '../../../gateway/src/anti-entropy/partition-trees.js'
import { DotCounter } from '../../../gateway/src/replica/dot-counter.js'
import { NodeStorage } from '../../../gateway/src/replica/node-storage.js'
import { ReplicaStore } from '../../../gateway/src/replica/replica-store.js'
import { startNodeProcess } from '../../support/node-process.js'
import { waitForExit } from '../../support/process.js'
import { seededRandom, randomInt } from '../../support/random.mjs'
import { tempDirPerTest } from '../../support/temp-dir.js'

// The key hash index is written in the objects' own engine batches, so no crash can leave it
// disagreeing with them. A real node process takes PUTs and DELETEs from several clients and is
// SIGKILLed at a random moment, again and again; then its data directory is opened with the engine
// directly and every index entry is checked against the objects, and every bucket hash computed
// from the index against one computed from the objects. STRESS=1 kills it 100 times instead of 20.

const KILLS = process.env.STRESS === '1' ? 100 : 20
const KEYS = 500
const CLIENTS = 4
const logger = pino({ level: 'silent' })
const tempDir = tempDirPerTest('levelring-index-crash')

test(`the key hash index equals the objects after ${KILLS} SIGKILLs under write load`, async () => {
  const dir = tempDir()
  const random = seededRandom(19)
  let acknowledged = 0
  for (let kill = 0; kill < KILLS; kill++) {
    const node = await startNodeProcess(['--node-id', 'n1', '--data-dir', dir, '--log-level', 'info', '--access-log', 'off'])
    let running = true
    const clients = Array.from({ length: CLIENTS }, async (_, c) => {
      let i = 0
      while (running) {
        const key = `k${randomInt(random, KEYS)}`
        const del = (i++ + c) % 4 === 3
        try {
          const res = await fetch(`${node.url}/v1/kv/${key}`, del ? { method: 'DELETE' } : { method: 'PUT', body: `value ${kill}.${c}.${i}`, headers: { 'content-type': 'text/plain' } })
          await res.arrayBuffer()
          if (res.status < 300) acknowledged++
        } catch {
          return // the node was killed under this request
        }
      }
    })
    await new Promise((resolve) => setTimeout(resolve, 150 + randomInt(random, 350)))
    node.child.kill('SIGKILL')
    running = false
    await waitForExit(node.child, 10_000)
    await Promise.all(clients)
  }
  expect(acknowledged, 'writes were acknowledged between the kills').toBeGreaterThan(KILLS * 10)

  const storage = await NodeStorage.open(dir)
  try {
    const index = KeyHashIndex.attach(storage)
    const check = await checkKeyHashIndex(storage.objects, index.space)
    expect(check.objects).toBeGreaterThan(KEYS / 2)
    expect(check.entries).toBe(check.objects)
    expect({ missing: check.missing, stale: check.stale, wrong: check.wrong }).toEqual({ missing: [], stale: [], wrong: [] })

    // The trees computed from the index (as a member computes them) equal those computed from the objects.
    const store = new ReplicaStore(storage, { actor: 'check@000000000001', counter: await DotCounter.open(storage.meta), logger })
    const trees = new PartitionTrees({ store, index, objects: storage.objects, partitionCount: 64, logger })
    trees.start()
    await trees.whenReady()
    const fromObjects = await bucketHashesFromObjects(storage.objects, 64, trees.bucketCount)
    const all = Array.from({ length: trees.bucketCount }, (_, b) => b)
    for (let p = 0; p < 64; p++) {
      const hashes = (await trees.local(p)).nodeHashes(trees.shape.depth, all).map((h) => h.toString('hex'))
      const expected = fromObjects.get(p) ?? new Map<number, string>()
      expect(new Map(hashes.map((h, b) => [b, h] as const).filter(([b]) => expected.has(b) || !/^0+$/.test(hashes[b]!)))).toEqual(expected)
    }
    await trees.close()
  } finally {
    await storage.close()
  }
}, 600_000)
