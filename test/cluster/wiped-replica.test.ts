import { rm } from 'node:fs/promises'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { FAULTS_PATH } from '../../gateway/src/internode/fault-injection.js'
import { encodeObject } from '../../gateway/src/replica/object-codec.js'
import { liveSiblings } from '../../gateway/src/replica/stored-object.js'
import { sameVersions } from '../../gateway/src/version/dvv.js'
import { antiEntropyView, divergentPartitions, repair, seed, storedObjects } from './helpers/anti-entropy.js'
import { putText } from './helpers/http.js'
import { waitUntil } from '../support/process.js'
import { TestCluster } from './helpers/test-cluster.js'
import { levelring } from '../tools/levelring-cli.js'
import { ContractClient } from '../gateway/helpers/contract-client.js'
import { ROOTS_BATCH, type AntiEntropyView, type RepairReport } from '../../gateway/src/anti-entropy/anti-entropy-service.js'

// A wiped replica. 20,000 keys are seeded on all three replicas (through the
// internode merge endpoint: client writes would take a minute here). Delete one node's data
// directory and restart it: one repair (each partition pulled by range, then compared; no client reads,
// periodic rounds off so the one repair does all of it and its bytes can be counted) restores every key, and the bytes it exchanged are reported beside the data size. Then a
// small difference (100 keys written while the node was down) costs traffic proportional to the
// difference: a few per cent of the data here (20k keys), well under 1% at 1M keys (npm run stress).

const KEYS = 20_000
const VALUE = 'v'.repeat(80)
const CONCURRENCY = 32

let cluster: TestCluster

beforeAll(async () => {
  cluster = await TestCluster.start({ size: 3, replicas: 3, settings: { antiEntropyIntervalMs: 0 } })
})
afterAll(async () => { await cluster?.close() })

const keyOf = (i: number): string => `wiped/${String(i).padStart(6, '0')}`

/** PUT keys [from, to) through the given nodes in turn, CONCURRENCY at a time; every write must be acknowledged. */
async function load (from: number, to: number, nodes: typeof cluster.nodes, query: string, value: (i: number) => string): Promise<void> {
  let next = from
  const failures: string[] = []
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < to) {
      const i = next++
      const res = await putText(nodes[i % nodes.length]!.url, keyOf(i), value(i), query)
      if (res.status !== 204) failures.push(`${keyOf(i)}: ${res.status} ${await res.text()}`)
    }
  }))
  expect(failures).toEqual([])
}

test(`a wiped replica of ${KEYS} keys is restored by one repair alone (by range, then compared); then 100 differing keys cost traffic proportional to them`, { timeout: 300_000 }, async () => {
  const [a, b, wiped] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0], typeof cluster.nodes[0]]
  const keys = Array.from({ length: KEYS }, (_, i) => keyOf(i))
  await seed(cluster, cluster.nodes, keys.map((key, i) => ({ key, value: `${VALUE}${i}` })))

  // Without --enable-fault-injection there is no switch to flip.
  expect((await cluster.internodeFetch(a, FAULTS_PATH, { method: 'PUT', body: '{"blocked":[]}' })).status).toBe(404)

  // Every replica holds every key: the trees agree everywhere (once every node is past its start-up check, whose
  // partitions answer "not ready" until then, longer on a loaded machine).
  await waitUntil('the trees agree everywhere', async () => (await divergentPartitions(cluster)).length === 0, 60_000, 200)
  const reference = await storedObjects(cluster, a, keys)
  const dataBytes = reference.reduce((n, o, i) => n + Buffer.byteLength(keys[i]!) + encodeObject(o!).length, 0)

  // Wipe: stop, delete the data directory, start again with the same id (a new incarnation, nothing stored).
  expect(await wiped.stop()).toBe(0)
  await rm(wiped.dataDir, { recursive: true, force: true })
  await wiped.start()
  await cluster.settled()
  expect((await antiEntropyView(wiped)).trees.keys).toBe(0)
  expect((await divergentPartitions(cluster)).length).toBeGreaterThan(cluster.partitions / 2)

  const report = await repair(wiped)
  const traffic = report.bytesSent + report.bytesReceived
  console.log(`wiped replica: ${KEYS} keys (${dataBytes} bytes of keys and stored objects); ` +
    `repair pulled ${report.keysPulled} keys, pushed ${report.keysPushed}, in ${report.requests} requests and ${report.durationMs} ms: ` +
    `${report.bytesReceived} bytes received + ${report.bytesSent} sent = ${(traffic / dataBytes).toFixed(3)} x the data`)
  expect(report.unreachable).toEqual([])
  expect(report.partitions).toBe(cluster.partitions)
  expect(report.keysPulled).toBe(KEYS)
  expect(report.keysPushed).toBe(0)
  // Everything the node lacked had to travel once, and not much more: no key was fetched from both peers.
  expect(report.bytesReceived).toBeGreaterThan(dataBytes * 0.9)
  expect(traffic).toBeLessThan(dataBytes * 1.5)

  // Restored: the trees agree everywhere again, and the replica-level reads (which never repair) hold the very versions.
  expect(await divergentPartitions(cluster)).toEqual([])
  const restored = await storedObjects(cluster, wiped, keys)
  restored.forEach((o, i) => {
    expect(o, keys[i]).toBeDefined()
    expect(sameVersions(o!, reference[i]!), keys[i]).toBe(true)
    expect(Buffer.from(liveSiblings(o!)[0]!.value.value).toString()).toBe(`${VALUE}${i}`)
  })

  // A small difference: 100 keys written while the node is down (50 new, 50 overwritten blind: two siblings).
  expect(await wiped.stop()).toBe(0)
  await load(KEYS, KEYS + 50, [a, b], 'w=2', (i) => `new ${i}`)
  await load(0, 50, [a, b], 'w=2', (i) => `sibling ${i}`)
  await wiped.start()
  await cluster.settled()
  // Through the contract client: the answer (and GET /v1/cluster's anti-entropy part) must match openapi/levelring.yaml.
  const checked = new ContractClient(wiped.url)
  const small = (await checked.send('POST', '/v1/admin/repair')).json as RepairReport
  const view = (await checked.get('/v1/cluster')).json.antiEntropy as AntiEntropyView
  const lastRound = view.lastExchanges.slice(0, small.peers.length) // one record per peer, newest first
  expect(lastRound.map((r) => r.trigger)).toEqual(['repair', 'repair'])
  expect(lastRound.reduce((n, r) => n + r.keysPulled, 0)).toBe(small.keysPulled)
  expect((await checked.get('/v1/admin/repair')).status).toBe(405)
  const smallTraffic = small.bytesSent + small.bytesReceived
  console.log(`100 differing keys of ${KEYS + 50}: repair pulled ${small.keysPulled} keys in ${small.requests} requests, ` +
    `${smallTraffic} bytes = ${(100 * smallTraffic / dataBytes).toFixed(2)}% of the data (${small.partitionsDiffering} differing partitions of ${small.comparisons} compared)`)
  expect(small.keysPulled).toBe(100)
  expect(small.keysDiffering).toBe(100)
  expect(await divergentPartitions(cluster)).toEqual([])

  // A repair with nothing to do costs one roots call per peer and ROOTS_BATCH partitions; `levelring repair` shows what it did.
  const idle = await levelring(['repair', '--node', wiped.url, '--json'])
  expect(idle.code, idle.stderr).toBe(0)
  const idleAnswer = JSON.parse(idle.stdout).answer as RepairReport
  expect(idleAnswer).toMatchObject({ node: wiped.id, partitions: cluster.partitions, keysExchanged: 0, requests: 2 * Math.ceil(cluster.partitions / ROOTS_BATCH), unreachable: [] })
  // Beyond a round's fixed cost (one roots exchange, ~23 B per partition and peer, so it grows with Q, not
  // with the keys), the 100 differing keys cost a few per cent of the data, not the data.
  const fixed = idleAnswer.bytesSent + idleAnswer.bytesReceived
  console.log(`a repair finding nothing: ${fixed} bytes; the 100 keys' repair beyond it: ${smallTraffic - fixed} bytes`)
  expect(fixed).toBeLessThan(smallTraffic)
  expect(smallTraffic - fixed).toBeLessThan(dataBytes * 0.05)
  const shown = await levelring(['repair', '--node', wiped.url])
  expect(shown.stdout).toMatch(/^ {2}keysExchanged: 0$/m)
  expect(shown.stdout).toMatch(/^ {2}bytesReceived: \d+$/m)
})
