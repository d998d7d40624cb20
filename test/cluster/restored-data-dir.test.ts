import { cp, rm } from 'node:fs/promises'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { liveSiblings, type StoredObject } from '../../gateway/src/replica/stored-object.js'
import { getKey, putText, siblingValues } from './helpers/http.js'
import { TestCluster, type ClusterNode } from './helpers/test-cluster.js'

// A data directory that goes back in time (riak_test's kv679 family): a node restarted on an
// earlier copy of its directory must not stamp new writes with dots it already handed out. Each
// case copies node1's directory, writes through node1 (it stamps: n=3 on 3 nodes, every node is a
// primary), stops it, puts the copy back, restarts it and writes again. Blind writes are
// concurrent with the earlier ones, so afterwards every replica must keep both as siblings: a
// reused dot makes replicas hold different values under one dot, and a higher dot whose clock
// "has seen" the earlier write drops it everywhere. Anti-entropy is off: reads alone are checked.

let cluster: TestCluster

beforeAll(async () => { cluster = await TestCluster.start({ size: 3, replicas: 3, settings: { antiEntropyIntervalMs: 0 } }) })
afterAll(async () => { await cluster?.close() })

const text = (object: StoredObject | undefined): string[] =>
  object === undefined ? [] : liveSiblings(object).map((s) => Buffer.from(s.value.value).toString()).sort()

async function restore (node: ClusterNode, copy: string): Promise<void> {
  expect(await node.stop()).toBe(0)
  await rm(node.dataDir, { recursive: true, force: true })
  await cp(copy, node.dataDir, { recursive: true })
  await node.start()
  await cluster.settled()
}

async function expectBothKept (key: string, before: string, after: string): Promise<void> {
  const read = await getKey(cluster.nodes[1]!.url, key, 'r=3', true)
  expect(await siblingValues(read), `${key} read with r=3`).toEqual([after, before].sort())
  // Every replica holds the acknowledged write stamped after the restore (w=3 said so).
  for (const node of cluster.nodes) expect(text(await cluster.replicaRead(node, key)), `${key} on ${node.id}`).toContain(after)
}

async function writeAll (node: ClusterNode, key: string, value: string): Promise<void> {
  const res = await putText(node.url, key, value, 'w=3')
  expect(res.status, await res.text()).toBe(204)
}

test('a node restarted on a copy taken while it was stopped cleanly stamps with a new actor epoch: no dot reused, no earlier write dropped', { timeout: 60_000 }, async () => {
  const node = cluster.node('node1')
  const copy = `${cluster.dir}/node1-cold-copy`
  expect(await node.stop()).toBe(0)
  await cp(node.dataDir, copy, { recursive: true })
  await node.start()
  await cluster.settled()
  await writeAll(node, 'cold-same', 'before restore')
  await writeAll(node, 'cold-seen', 'before restore')

  await restore(node, copy)
  await writeAll(node, 'cold-same', 'after restore') // the first dot after the restore: the one 'before restore' got
  await writeAll(node, 'cold-filler', 'x')
  await writeAll(node, 'cold-seen', 'after restore') // a higher dot than the earlier write's on this key

  await expectBothKept('cold-same', 'before restore', 'after restore')
  await expectBothKept('cold-seen', 'before restore', 'after restore')
})

test('a node restarted on a copy taken while it ran (as after a crash that lost unflushed writes) stamps with a new actor epoch', { timeout: 60_000 }, async () => {
  const node = cluster.node('node1')
  const copy = `${cluster.dir}/node1-hot-copy`
  await cp(node.dataDir, copy, { recursive: true })
  await writeAll(node, 'hot-same', 'before restore')
  await writeAll(node, 'hot-seen', 'before restore')

  await restore(node, copy)
  await writeAll(node, 'hot-same', 'after restore')
  await writeAll(node, 'hot-filler', 'x')
  await writeAll(node, 'hot-seen', 'after restore')

  await expectBothKept('hot-same', 'before restore', 'after restore')
  await expectBothKept('hot-seen', 'before restore', 'after restore')
})

test('a clean restart keeps the actor; a SIGKILL gives the next life a new one', { timeout: 60_000 }, async () => {
  const node = cluster.node('node2')
  const actorOf = (): string => node.lines.find((l) => typeof l.actor === 'string')!.actor as string
  const first = actorOf()
  expect(await node.stop()).toBe(0)
  await node.start()
  expect(actorOf()).toBe(first)
  await node.stop('SIGKILL')
  await node.start()
  await cluster.settled()
  expect(actorOf()).not.toBe(first)
  expect(actorOf().startsWith('node2@')).toBe(true)
})
