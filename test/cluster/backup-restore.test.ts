import { cp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startNodeProcess, type NodeProcess } from '../support/node-process.js'
import { levelring } from '../support/levelring-command.js'
import { sleep, waitUntil } from '../support/process.js'
import { tempRoot } from '../support/temp-dir.js'
import { forEachLimited, heldValues, WriteLoad } from './helpers/membership.js'
import { putText } from './helpers/http.js'
import { TestCluster } from './helpers/test-cluster.js'

// Backup while a writer runs, the node's disk lost, the backup restored into its new data
// directory: the cluster converges and no acknowledged write is lost. Then export and import: a
// node's keys, siblings and contexts, written into another cluster.
// That a restored node never reuses a dot it handed out before its disk was lost is the actor
// epoch's matter (node/actor-epoch.ts, its own tests); this test checks that a restored backup takes
// a new epoch, writes through the restored node, and checks that nothing is lost.

const dir = tempRoot('levelring-backup')
let cluster: TestCluster
const others: NodeProcess[] = []

beforeAll(async () => {
  cluster = await TestCluster.start({ size: 3, replicas: 3, settings: { partitions: 64, antiEntropyIntervalMs: 1_000, antiEntropyPartitionsPerRound: 64 } })
}, 60_000)
afterAll(async () => {
  await Promise.all(others.map(async (n) => { await n.stop() }))
  await cluster?.close()
})

test('a backup taken while writing, restored into a node whose disk was lost: the cluster converges and nothing acknowledged is lost', async () => {
  const node3 = cluster.node('node3')
  const load = new WriteLoad(() => cluster.nodes.filter((n) => n.running), { writers: 4, prefix: 'bk' })
  await sleep(1_500)
  const out = join(dir, 'node3-backup')
  const backup = await levelring(['backup', '--node', node3.url, '--out', out, '--json'], { timeoutMs: 60_000 })
  expect(backup.stderr).toBe('')
  expect(backup.code).toBe(0)
  const manifest = JSON.parse(backup.stdout) as { node: string, tables: number, bytes: number }
  expect(manifest.node).toBe('node3')
  expect(manifest.tables).toBeGreaterThan(0)
  expect(JSON.parse(await readFile(join(out, 'BACKUP.json'), 'utf8'))).toMatchObject({ node: 'node3', tables: manifest.tables, bytes: manifest.bytes })
  expect((await readdir(out)).filter((n) => n.endsWith('.sst'))).toHaveLength(manifest.tables)
  // The node's checkpoint is gone once streamed: nothing is left beside its engine.
  expect((await readdir(node3.dataDir)).filter((n) => n.startsWith('backup-'))).toEqual([])
  await sleep(1_500)

  // node3's disk is lost; the operator restores the backup into its new data directory.
  await node3.stop('SIGKILL')
  await rm(node3.dataDir, { recursive: true, force: true })
  await cp(out, node3.dataDir, { recursive: true })
  await sleep(500)
  await node3.start()
  // The backup of a running node holds no clean-stop record: the restored node stamps with a new actor epoch.
  expect(node3.lines.some((l) => l.msg === 'stamping writes with a new actor epoch')).toBe(true)
  await sleep(1_500) // writes also go through the restored node now
  const report = await load.stop()
  console.log(`backup/restore: ${report.acknowledged} acknowledged of ${report.attempted} writes, ${report.failed} failed (${JSON.stringify(report.causes)}); backup held ${manifest.tables} tables, ${manifest.bytes} bytes`)
  expect(report.acknowledged).toBeGreaterThan(50)

  // Anti-entropy brings the restored node current: every acknowledged write on every replica (n = 3 of 3 nodes).
  const keys = [...load.acknowledged.keys()]
  await waitUntil('every acknowledged write is on all three replicas, the restored node included', async () => {
    await fetch(`${node3.url}/v1/admin/repair`, { method: 'POST' })
    let missing = 0
    await forEachLimited(keys, 16, async (key) => {
      for (const node of cluster.nodes) if (!(await heldValues(cluster, node, key)).includes(load.acknowledged.get(key)!)) missing++
    })
    return missing === 0
  }, 60_000, 1_000)
  // A write through the restored node is readable everywhere.
  expect((await putText(node3.url, 'after-restore', 'fresh', 'w=3')).status).toBe(204)
  for (const node of cluster.nodes) expect(await heldValues(cluster, node, 'after-restore')).toEqual(['fresh'])
}, 180_000)

test('export writes every key with siblings and contexts as NDJSON; import into a cluster with the same secret keeps them, another secret needs --blind', async () => {
  const node1 = cluster.node('node1')
  for (let i = 0; i < 20; i++) expect((await putText(node1.url, `ex-${i}`, `value-${i}`, 'w=3')).status).toBe(204)
  expect((await putText(node1.url, 'ex-siblings', 'left', 'w=3')).status).toBe(204)
  expect((await putText(cluster.node('node2').url, 'ex-siblings', 'right', 'w=3')).status).toBe(204)
  const file = join(dir, 'export.ndjson')
  const exported = await levelring(['export', '--node', node1.url, '--out', file], { timeoutMs: 60_000 })
  expect(exported.code, exported.stderr).toBe(0)
  const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>)
  expect(lines[0]).toMatchObject({ format: 'levelring-export', node: 'node1' })
  const siblings = lines.find((l) => l.key === 'ex-siblings')!
  expect(siblings.siblings.map((s: { value: string }) => Buffer.from(s.value, 'base64').toString()).sort()).toEqual(['left', 'right'])
  expect(typeof siblings.context).toBe('string')

  // A standalone node with the cluster's secret accepts the contexts: values and siblings as they were.
  const same = await startNodeProcess(['--node-id', 'target', '--data-dir', join(dir, 'target'), '--cluster-secret-file', join(cluster.dir, 'secret')])
  others.push(same)
  const imported = await levelring(['import', file, '--node', same.url, '--json'], { timeoutMs: 60_000 })
  expect(imported.code, imported.stderr).toBe(0)
  expect(JSON.parse(imported.stdout).keys).toBe(lines.length - 2)
  expect(await (await fetch(`${same.url}/v1/kv/ex-7`)).text()).toBe('value-7')
  const both = await (await fetch(`${same.url}/v1/kv/ex-siblings`, { headers: { Accept: 'application/json' } })).json() as { siblings: Array<{ value: string }> }
  expect(both.siblings.map((s) => Buffer.from(s.value, 'base64').toString()).sort()).toEqual(['left', 'right'])

  // Another secret: the contexts are refused, and the command says to import --blind.
  await writeFile(join(dir, 'other-secret'), 'another-cluster-secret-0123456789\n')
  const other = await startNodeProcess(['--node-id', 'other', '--data-dir', join(dir, 'other'), '--cluster-secret-file', join(dir, 'other-secret')])
  others.push(other)
  const refused = await levelring(['import', file, '--node', other.url], { timeoutMs: 60_000 })
  expect(refused.code).toBe(1)
  expect(refused.stderr).toMatch(/import with --blind/)
  expect((await levelring(['import', file, '--node', other.url, '--blind'], { timeoutMs: 60_000 })).code).toBe(0)
  expect(await (await fetch(`${other.url}/v1/kv/ex-19`)).text()).toBe('value-19')
}, 120_000)
