import { afterAll, beforeAll, expect, test } from 'vitest'
import { startTestNode, type TestNode } from '../helpers/test-node.js'
import { parseExposition, sampleValue } from '../../support/prometheus-text.js'

// GET /metrics of a real node (lsm-level files, a socket on loopback) after a known workload: the
// exposition parses under a strict parser of the text format, follows Prometheus' naming conventions,
// never shows a key, and the request counters moved by exactly what was sent.

let node: TestNode
let off: TestNode

/** Keys that must never show up in the exposition (as label values or anywhere else). */
const KEYS = ['metrics-secret-key-1', 'wëird/kéy?with=stuff', 'another-secret-key']

beforeAll(async () => {
  node = await startTestNode({ nodeId: 'm1' })
  off = await startTestNode({ nodeId: 'm2', metrics: false })
})

afterAll(async () => {
  await node?.stop()
  await off?.stop()
})

async function scrape (url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  return res.text()
}

/** Label names the node's own families may use: each has a small, fixed or cluster-sized set of values. */
const LABELS = new Set(['node', 'operation', 'status', 'parameter', 'peer', 'endpoint', 'outcome', 'owner', 'direction', 'state', 'level', 'ring', 'le'])

test('after a known workload the exposition parses strictly, follows the conventions, shows no key, and counts every request', async () => {
  const before = parseExposition(await scrape(node.url))
  const kv = (key: string): string => `${node.url}/v1/kv/${encodeURIComponent(key)}`
  for (const key of KEYS) expect((await fetch(kv(key), { method: 'PUT', body: 'v' })).status).toBe(204)
  for (const key of KEYS) expect((await fetch(kv(key))).status).toBe(200)
  expect((await fetch(kv('metrics-missing-key'))).status).toBe(404)
  expect((await fetch(kv(KEYS[0]!), { method: 'DELETE' })).status).toBe(204)
  expect((await fetch(`${kv(KEYS[1]!)}?r=9`)).status).toBe(400)
  const text = await scrape(node.url)
  const after = parseExposition(text)

  for (const key of [...KEYS, 'metrics-missing-key']) {
    expect(text).not.toContain(key)
    expect(text).not.toContain(encodeURIComponent(key))
  }
  const delta = (name: string, labels: Record<string, string>): number => sampleValue(after, name, labels) - sampleValue(before, name, labels)
  expect(delta('levelring_http_requests_total', { operation: 'put', status: '204' })).toBe(3)
  expect(delta('levelring_http_requests_total', { operation: 'get', status: '200' })).toBe(3)
  expect(delta('levelring_http_requests_total', { operation: 'get', status: '404' })).toBe(1)
  expect(delta('levelring_http_requests_total', { operation: 'get', status: '400' })).toBe(1)
  expect(delta('levelring_http_requests_total', { operation: 'delete', status: '204' })).toBe(1)
  expect(delta('levelring_http_request_duration_seconds_count', { operation: 'get' })).toBe(5)
  // Reads that reached the coordinator: three found (one sibling each), one not found (zero).
  expect(delta('levelring_read_siblings_count', {})).toBe(4)
  expect(delta('levelring_read_siblings_sum', {})).toBe(3)
  expect(sampleValue(after, 'levelring_http_requests_total', { operation: 'metrics', status: '200' })).toBeGreaterThanOrEqual(1)
  expect(sampleValue(after, 'levelring_storage_written_bytes_total')).toBeGreaterThan(0)
  expect(sampleValue(after, 'levelring_engine_memtable_bytes')).toBeGreaterThan(0)
  expect(sampleValue(after, 'levelring_engine_level_files', { level: '0' })).toBeGreaterThanOrEqual(0)
  expect(sampleValue(after, 'process_resident_memory_bytes')).toBeGreaterThan(0)
  expect(after.get('nodejs_eventloop_lag_seconds')?.type).toBe('gauge')
  expect(after.get('nodejs_gc_duration_seconds')?.type).toBe('histogram')

  const own = [...after.values()].filter((f) => f.name.startsWith('levelring_'))
  expect(own.length).toBeGreaterThan(25)
  for (const family of own) {
    expect(family.help, family.name).toBeTruthy()
    expect(family.type, family.name).not.toBe('untyped')
    if (family.type === 'counter') expect(family.name).toMatch(/_total$/)
    else expect(family.name).not.toMatch(/_total$/)
    // Base units only: seconds and bytes, never ms or KiB.
    expect(family.name).not.toMatch(/_(ms|milliseconds|kb|kib|mb|mib)(_|$)/)
    for (const sample of family.samples) {
      expect(sample.labels.node).toBe('m1')
      for (const label of Object.keys(sample.labels)) expect(LABELS.has(label), `${family.name} label ${label}`).toBe(true)
    }
  }
})

test('a write refused for too many siblings is counted as a sibling-limit refusal, and the read of 100 siblings as such', async () => {
  const before = parseExposition(await scrape(node.url))
  const url = `${node.url}/v1/kv/crowded`
  // Blind writes (no context) each add a sibling; the one past the limit of 100 is refused.
  for (let i = 0; i < 100; i++) expect((await fetch(url, { method: 'PUT', body: String(i) })).status).toBe(204)
  expect((await fetch(url, { method: 'PUT', body: 'one too many' })).status).toBe(409)
  expect((await fetch(url)).status).toBe(300)
  const after = parseExposition(await scrape(node.url))
  const delta = (name: string, labels: Record<string, string> = {}): number => sampleValue(after, name, labels) - sampleValue(before, name, labels)
  expect(delta('levelring_sibling_limit_refusals_total')).toBe(1)
  expect(delta('levelring_http_requests_total', { operation: 'put', status: '409' })).toBe(1)
  expect(delta('levelring_read_siblings_sum')).toBe(100)
  expect(delta('levelring_read_siblings_bucket', { le: '50' })).toBe(0)
  expect(delta('levelring_read_siblings_bucket', { le: '100' })).toBe(1)
  for (const parameter of ['r', 'pr', 'w', 'dw', 'pw']) expect(delta('levelring_quorum_failures_total', { parameter })).toBe(0)
})

test('a node started with metrics off answers /metrics with a 404 problem saying so, and serves as usual', async () => {
  const res = await fetch(`${off.url}/metrics`)
  expect(res.status).toBe(404)
  expect(res.headers.get('content-type')).toBe('application/problem+json')
  expect(((await res.json()) as { detail: string }).detail).toMatch(/--metrics off/)
  expect((await fetch(`${off.url}/v1/kv/k`, { method: 'PUT', body: 'v' })).status).toBe(204)
  expect((await fetch(`${off.url}/v1/ready`)).status).toBe(200)
})

test('the strict parser refuses what the text format does not allow', () => {
  const ok = '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1"} 2\n'
  expect(sampleValue(parseExposition(ok), 'a_total', { x: '1' })).toBe(2)
  const bad = [
    'a_total 1', // no final newline
    '# TYPE a_total counter\na_total -1\n', // a negative counter
    '# TYPE a gauge\na{x="1",x="2"} 1\n', // a label twice
    '# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n', // a series twice
    '# TYPE a gauge\na{__x="1"} 1\n', // a reserved label name
    '# TYPE a gauge\na{x="\\q"} 1\n', // a bad escape
    '# TYPE a gauge\na{x=1} 1\n', // an unquoted value
    '# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n', // a family split
    '# TYPE a gauge\na one\n', // not a number
    '# TYPE a gauge\na 1\n# TYPE a gauge\n', // TYPE after samples
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', // buckets not cumulative
    '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', // no +Inf bucket
    '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n', // +Inf != count
    '# TYPE a nonsense\n' // an unknown type
  ]
  for (const text of bad) expect(() => parseExposition(text), JSON.stringify(text)).toThrow()
})

test('two scrapes in a row both parse strictly, though no event-loop sample fell between them', async () => {
  const [first, second] = await Promise.all([scrape(node.url), scrape(node.url)])
  for (const text of [first, second]) expect(() => parseExposition(text)).not.toThrow()
})
