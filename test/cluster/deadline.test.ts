import { afterAll, beforeAll, expect, test } from 'vitest'
import { liveSiblings } from '../../gateway/src/replica/stored-object.js'
import { eventually, getKey, putText } from './helpers/http.js'
import { TestCluster } from './helpers/test-cluster.js'

// A replica that hangs (SIGSTOP: its sockets stay open, it answers nothing) instead of refusing
// connections: requests needing it answer 503 at their deadline with the counts reached, requests
// that do not need it answer without waiting for it, and its late answers are still used: the
// write it was sent lands when it resumes, and a read's late "not found" still gets it repaired.

let cluster: TestCluster

beforeAll(async () => { cluster = await TestCluster.start({ size: 3, replicas: 3 }) })
afterAll(async () => { await cluster?.close() })

const text = (o: Parameters<typeof liveSiblings>[0] | undefined): string[] =>
  o === undefined ? [] : liveSiblings(o).map((s) => Buffer.from(s.value.value).toString())

test('a hung replica: 503 at the deadline with needed/answered, r=2/w=2 unaffected, late writes land when it resumes', async () => {
  const [a, b, hung] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0], typeof cluster.nodes[0]]
  expect((await putText(a.url, 'before', 'v', 'w=3')).status).toBe(204)
  hung.pause()
  try {
    // A deadline long enough for the two live replicas on a loaded machine; the hung one never answers.
    const read = await getKey(a.url, 'before', 'r=3&timeout_ms=1500')
    expect(read.status).toBe(503)
    const problem = await read.json() as { detail: string }
    expect(problem).toMatchObject({ parameter: 'r', needed: 3, answered: 2, replicas: 3 })
    expect(problem.detail).toMatch(/timeout_ms=1500/)

    const write = await putText(b.url, 'late-write', 'arrives late', 'w=3&timeout_ms=1500')
    expect(write.status).toBe(503)
    expect(await write.json()).toMatchObject({ parameter: 'w', needed: 3, answered: 2 })

    expect((await putText(a.url, 'quorum-write', 'fine', 'w=2&timeout_ms=2000')).status).toBe(204)
    expect(await (await getKey(b.url, 'quorum-write', 'r=2&timeout_ms=2000')).text()).toBe('fine')
  } finally {
    hung.resume()
  }
  // The replication sent to the hung node before its deadline is applied once it runs again.
  for (const key of ['late-write', 'quorum-write']) {
    await eventually(`${key} on the resumed node`, async () => text(await cluster.replicaRead(hung, key)).length === 1)
  }
  expect(text(await cluster.replicaRead(hung, 'late-write'))).toEqual(['arrives late'])
})

test('a read answered without a hung replica repairs it from its late reply', async () => {
  const [a, b, hung] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0], typeof cluster.nodes[0]]
  expect(await hung.stop()).toBe(0)
  expect((await putText(a.url, 'missed', 'while down', 'w=2')).status).toBe(204)
  await hung.start()
  hung.pause()
  try {
    const read = await getKey(b.url, 'missed', 'r=2&timeout_ms=2000')
    expect(await read.text()).toBe('while down') // answered by a and b alone
  } finally {
    hung.resume()
  }
  // Its late "not found" completes the read's replies: read repair sends it the value.
  await eventually('late reply repaired', async () => text(await cluster.replicaRead(hung, 'missed')).length === 1)
  expect(text(await cluster.replicaRead(hung, 'missed'))).toEqual(['while down'])
})
