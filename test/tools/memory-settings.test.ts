// The node's engine memory settings reach the engine: a node started with a 256 KiB block cache
// (`--cache-size`, the alias of --block-cache-size) and 64 KiB memtables (`--write-buffer-size`) holds no
// more than 256 KiB of blocks after reading back 1.6 MB it wrote, and has flushed what it wrote to tables
// (with the defaults, 64 MiB and 4 MiB, all of it would be cached, and all of it still in the memtable).
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, expect, test } from 'vitest'
import { startNodeProcess, type NodeProcess } from '../support/node-process.js'
import { parseExposition, sampleValue } from '../support/prometheus-text.js'
import { tempRoot } from '../support/temp-dir.js'

const dir = tempRoot('memory-settings')
const CACHE_BYTES = 256 * 1024
const KEYS = 400
// Random, so compression does not shrink what the tables and the cache hold.
const VALUE_BYTES = 4096
const values = Array.from({ length: KEYS }, () => randomBytes(VALUE_BYTES))
let node: NodeProcess | undefined
afterAll(async () => { await node?.stop() })

async function metrics (url: string): Promise<ReturnType<typeof parseExposition>> {
  const res = await fetch(`${url}/metrics`)
  expect(res.status).toBe(200)
  return parseExposition(await res.text())
}

/** Run `work(i)` for i < count, 16 at a time. */
async function each (count: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: 16 }, async () => { for (let i = next++; i < count; i = next++) await work(i) }))
}

test('--cache-size and --write-buffer-size bound the engine of a started node', async () => {
  node = await startNodeProcess(['--node-id', 'mem', '--data', join(dir, 'mem'), '--access-log', 'off',
    '--cache-size', String(CACHE_BYTES), '--write-buffer-size', String(64 * 1024)])
  await each(KEYS, async (i) => {
    const res = await fetch(`${node!.url}/v1/kv/key-${i}`, { method: 'PUT', body: values[i], headers: { 'content-type': 'application/octet-stream' } })
    expect(res.status).toBe(204)
  })
  await each(KEYS, async (i) => {
    const res = await fetch(`${node!.url}/v1/kv/key-${i}`)
    expect(res.status).toBe(200)
    expect(Buffer.from(await res.arrayBuffer()).equals(values[i]!)).toBe(true)
  })
  const m = await metrics(node.url)
  // 64 KiB memtables: nearly everything written is in tables by now (4 MiB ones would hold it all).
  expect(sampleValue(m, 'levelring_engine_level_bytes')).toBeGreaterThan(KEYS * VALUE_BYTES / 2)
  const cached = sampleValue(m, 'levelring_engine_block_cache_bytes')
  expect(cached).toBeGreaterThan(0)
  expect(cached).toBeLessThanOrEqual(CACHE_BYTES)
  // Reads went past what the cache holds: it evicted.
  expect(sampleValue(m, 'levelring_engine_block_cache_misses_total') * VALUE_BYTES).toBeGreaterThan(CACHE_BYTES)
}, 120_000)
