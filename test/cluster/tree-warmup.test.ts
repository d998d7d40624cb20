// After a start, anti-entropy's partition trees are computed one partition at a time (an exchange
// computes the trees it compares, a background pass the rest), never by one scan of all the key hash
// index before anything can run. Three real node processes on loopback (n = 3, the default Q of 2048),
// seeded offline with tens of thousands of keys (bench:scale's seed, tools/src/bench/scale-seed.ts):
//  - a restarted node finishes its first anti-entropy round with its peers while most of its trees
//    are still to be computed (levelring_anti_entropy_trees_computed, read once that round is seen);
//  - a node killed (SIGKILL) in the middle of building its key hash index in the background keeps the
//    partitions it marked built, builds only the rest at the next start, and then agrees with its
//    peers key for key (a repair finds nothing) while its index equals its objects.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, expect, test } from 'vitest'
import { seedReplicas } from '../../tools/src/bench/scale-seed.js'
import { INDEX_STATE_KEY, KeyHashIndex } from '../../gateway/src/anti-entropy/key-hash-index.js'
import { checkKeyHashIndex } from '../../gateway/src/anti-entropy/index-check.js'
import { NodeStorage } from '../../gateway/src/replica/node-storage.js'
import { startNodeProcess, type NodeProcess } from '../support/node-process.js'
import { freePorts, waitForExit, waitUntil } from '../support/process.js'
import { parseExposition, sampleValue } from '../support/prometheus-text.js'
import { tempRoot } from '../support/temp-dir.js'

const KEYS = 30_000
const Q = 2048
const root = tempRoot('levelring-tree-warmup')
const keyOf = (i: number): string => `k${String(i).padStart(10, '0')}`
const valueOf = (i: number): Uint8Array => Buffer.from(`value of key ${i}`)
const IDS = ['node1', 'node2', 'node3'] as const

const running: NodeProcess[] = []
afterAll(async () => { await Promise.all(running.map(async (n) => await n.stop())) })

let ports: number[] = []
const secretFile = join(root, 'secret')

async function start (i: number): Promise<NodeProcess> {
  const id = IDS[i]!
  const node = await startNodeProcess([
    '--node-id', id, '--listen', `127.0.0.1:${ports[i]!}`, '--data', join(root, id), '--replicas', '3', '--cluster-secret-file', secretFile,
    '--peers', IDS.flatMap((other, j) => (j === i ? [] : [`${other}=127.0.0.1:${ports[j]!}`])).join(','), '--access-log', 'off',
    // Rounds often and small, so the first one comes long before a pass over 2048 partitions could end.
    '--anti-entropy-interval-ms', '100', '--anti-entropy-partitions-per-round', '8'
  ])
  running.push(node)
  return node
}

async function json (url: string, method = 'GET'): Promise<any> {
  const res = await fetch(url, { method })
  expect(res.status, `${method} ${url}`).toBe(200)
  return await res.json()
}

const treesOf = async (node: NodeProcess): Promise<any> => (await json(`${node.url}/v1/cluster`)).antiEntropy

async function computedTrees (node: NodeProcess): Promise<number> {
  const res = await fetch(`${node.url}/metrics`)
  return sampleValue(parseExposition(await res.text()), 'levelring_anti_entropy_trees_computed')
}

const ready = async (node: NodeProcess): Promise<void> => {
  await waitUntil(`${node.url}'s trees ready`, async () => (await treesOf(node)).trees.state === 'ready', 120_000, 100)
}

let nodes: NodeProcess[] = []

test('a restarted node finishes its first anti-entropy round before most of its partition trees are computed', async () => {
  ports = await freePorts(3)
  writeFileSync(secretFile, 'a cluster secret long enough for the test')
  const empty = await Promise.all(IDS.map(async (_, i) => await start(i)))
  for (const n of empty) await ready(n)
  await Promise.all(empty.map(async (n) => await n.stop()))
  await seedReplicas({ dataDirs: IDS.map((id) => join(root, id)), keys: KEYS, keyOf, valueOf })
  nodes = await Promise.all(IDS.map(async (_, i) => await start(i)))
  for (const n of nodes) await ready(n)
  expect(await computedTrees(nodes[2]!)).toBe(Q)

  await nodes[2]!.stop()
  nodes[2] = await start(2)
  const node = nodes[2]
  let computedAtFirstRound = -1
  let stateAtFirstRound = ''
  await waitUntil('the restarted node\'s first round with a peer', async () => {
    const view = await treesOf(node)
    if (!(view.lastExchanges as any[]).some((r) => r.partitionsCompared > 0 && r.error === undefined)) return false
    // Read after the round was seen: at most what was computed when it ended, plus what the pass did since.
    computedAtFirstRound = await computedTrees(node)
    stateAtFirstRound = view.trees.state
    return true
  }, 60_000, 10)
  expect(stateAtFirstRound).toBe('building')
  expect(computedAtFirstRound, 'trees computed when the first round was seen').toBeGreaterThan(0)
  expect(computedAtFirstRound, 'trees computed when the first round was seen').toBeLessThan(Q / 2)
  await ready(node)
  expect(await computedTrees(node)).toBe(Q)
  expect((await treesOf(node)).trees).toMatchObject({ state: 'ready', computedPartitions: Q, keys: KEYS })
}, 360_000)

test('a node killed while building its key hash index keeps the partitions it marked built, builds the rest at its next start, and agrees with its peers', async () => {
  expect(nodes).toHaveLength(3)
  const dir = join(root, IDS[2])
  await nodes[2]!.stop()
  // Take node3's index away, as a data directory written before the index existed has none.
  const storage = await NodeStorage.open(dir)
  try {
    const index = KeyHashIndex.attach(storage)
    const entries = await index.space.keys().all()
    for (let i = 0; i < entries.length; i += 5_000) await index.space.batch(entries.slice(i, i + 5_000).map((key) => ({ type: 'del' as const, key })))
    await storage.meta.del(INDEX_STATE_KEY)
    await storage.syncBarrier()
  } finally {
    await storage.close()
  }

  let node = await start(2)
  let indexedAtKill = 0
  await waitUntil('some partitions of the index built, not all', async () => {
    indexedAtKill = (await treesOf(node)).trees.indexedPartitions
    return indexedAtKill > 0
  }, 60_000, 5)
  node.child.kill('SIGKILL')
  await waitForExit(node.child, 10_000)
  expect(indexedAtKill, 'killed in the middle of the build').toBeLessThan(Q)

  node = nodes[2] = await start(2)
  await ready(node)
  const rebuilt = node.lines.find((l) => /building the key hash index/.test(String(l.msg)))
  expect(rebuilt?.partitions, 'only the partitions not marked built before the kill').toBeLessThanOrEqual(Q - indexedAtKill)
  expect((await treesOf(node)).trees).toMatchObject({ state: 'ready', indexedPartitions: Q, computedPartitions: Q, keys: KEYS })
  const repair = await json(`${node.url}/v1/admin/repair`, 'POST')
  expect(repair).toMatchObject({ keysDiffering: 0, keysExchanged: 0, unreachable: [] })
  expect(repair.comparisons).toBe(2 * Q)

  await node.stop()
  const after = await NodeStorage.open(dir)
  try {
    const check = await checkKeyHashIndex(after.objects, KeyHashIndex.attach(after).space)
    expect(check).toMatchObject({ objects: KEYS, entries: KEYS, missing: [], stale: [], wrong: [] })
  } finally {
    await after.close()
  }
}, 360_000)
