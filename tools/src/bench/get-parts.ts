import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { pino } from 'pino'

// `node dist/tools/src/bench/get-parts.js`: what the parts of a cluster GET that every request pays
// cost in CPU, each measured apart in this process on a real replica store (2,000 keys of 10 KiB in
// a temp directory, its key hash index built): the coordinator's read of its own copy (engine read,
// decode, digest), a replica's answer to a digest read, the context token, the query's parameter
// check and the internode call metrics of a read. With LEVELRING_BENCH_BASELINE_DIST=../other/dist
// the other build's parts are measured beside, the two alternating; CPU time per call, best of 15
// rounds, so a shared machine's load barely moves it.

const KEYS = 2000
const VALUE = Buffer.alloc(10 * 1024, 'levelring ')
const ROUNDS = 15
const CALLS = 4000
const logger = pino({ level: 'silent' })

type Part = () => unknown

/** The parts measured on the build whose dist/ is `dist`. */
async function parts (dist: string, name: string): Promise<{ parts: Record<string, Part>, close: () => Promise<void> }> {
  const load = async (path: string): Promise<any> => await import(pathToFileURL(join(dist, 'gateway/src', path)).href)
  const { NodeStorage } = await load('replica/node-storage.js')
  const { ReplicaStore } = await load('replica/replica-store.js')
  const { DotCounter } = await load('replica/dot-counter.js')
  const { KeyHashIndex } = await load('anti-entropy/key-hash-index.js')
  const { ClusterReplicaAccess } = await load('coordination/replica-access.js')
  const { storedDigest } = await load('coordination/replica-digest.js')
  const { NOTHING_SEEN, readContext } = await load('version/dvv.js')
  const { encodeContext } = await load('version/causal-context.js')
  const { validateParameters } = await load('http/request-parameters.js')
  const { ApiContract } = await load('http/contract.js')
  const { NodeMetrics } = await load('metrics/node-metrics.js')
  const dir = mkdtempSync(join(tmpdir(), `levelring-get-parts-${name}-`))
  const storage = await NodeStorage.open(dir)
  const index = KeyHashIndex.attach(storage)
  const store = new ReplicaStore(storage, { actor: 'n1@000000000001', counter: await DotCounter.open(storage.meta), logger })
  for (let i = 0; i < KEYS; i++) await store.write(`hot-${i}`, { value: VALUE, contentType: 'application/octet-stream' }, NOTHING_SEEN, { sync: false })
  await index.build(Array.from({ length: 64 }, (_, p) => p), 64, storage.objects, logger, () => false)
  // The client is never called: every read here is this node's own.
  const access = new ClusterReplicaAccess('n1', store, {}, undefined, () => false, index)
  const object = await store.read('hot-1')
  const secret = Buffer.alloc(32, 7)
  const getObject = ApiContract.load().operation('getObject')
  const metrics = new NodeMetrics('n1')
  let k = 0
  return {
    parts: {
      'coordinator\'s own read: engine get, decode, digest': async () => await access.readAnswer('n1', `hot-${k++ % KEYS}`, 1000),
      'a replica\'s digest answer (key hash index)': async () => await storedDigest(store, index, `hot-${k++ % KEYS}`),
      'context token of the answer': () => encodeContext('hot-1', readContext(object), secret),
      'parameter check of ?r=2': () => validateParameters(getObject, { r: '2' }, {}, 'hot-1'),
      'metrics of the two digest calls': () => {
        metrics.internodeCall('n2', 'replica_digest', 0.0004, 'ok')
        metrics.internodeCall('n3', 'replica_digest', 0.0004, 'ok')
      }
    },
    close: async () => { await storage.close(); rmSync(dir, { recursive: true, force: true }) }
  }
}

/** CPU µs per call of `part`, over CALLS calls. */
async function cpuPerCall (part: Part): Promise<number> {
  const before = process.cpuUsage()
  for (let i = 0; i < CALLS; i++) {
    const result = part()
    if (result instanceof Promise) await result
  }
  const used = process.cpuUsage(before)
  return (used.user + used.system) / CALLS
}

const baselineDist = process.env.LEVELRING_BENCH_BASELINE_DIST
const builds = [{ name: 'this build', ...await parts(resolve('dist'), 'this') }]
if (baselineDist !== undefined) builds.push({ name: 'baseline', ...await parts(resolve(baselineDist), 'baseline') })
try {
  const rows: Array<Record<string, string>> = []
  for (const part of Object.keys(builds[0]!.parts)) {
    const best = builds.map(() => Infinity)
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, build] of builds.entries()) best[i] = Math.min(best[i]!, await cpuPerCall(build.parts[part]!))
    }
    const row: Record<string, string> = { part }
    for (const [i, build] of builds.entries()) row[`${build.name}, CPU µs`] = best[i]!.toFixed(1)
    if (builds.length > 1) row['this ÷ baseline'] = (best[0]! / best[1]!).toFixed(2)
    rows.push(row)
  }
  process.stdout.write(`get-parts: ${KEYS} keys of ${VALUE.length / 1024} KiB, best of ${ROUNDS} rounds of ${CALLS} calls\n`)
  console.table(rows)
} finally {
  for (const build of builds) await build.close()
}
