// The codec benchmark runs end to end on the engine's own blocks and prints a row per candidate: the
// measured ones with a ratio below 1 (the data compresses to about half), the missing ones said to be so.
// No timings are asserted: a benchmark is not a test.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, test } from 'vitest'

const SCRIPT = join(fileURLToPath(new URL('../../', import.meta.url)), 'dist/tools/src/bench/codecs.js')

test('bench:codecs measures every installed candidate on real data blocks and round-trips each', () => {
  const run = spawnSync(process.execPath, [SCRIPT, '3000'], { encoding: 'utf8', timeout: 120_000 })
  expect(run.status, run.stderr).toBe(0)
  const rows = new Map(run.stdout.split('\n').map((line) => line.split(/\s{2,}/)).filter((cells) => cells.length >= 3).map((cells) => [cells[0], cells]))
  for (const codec of ['snappy', 'snappyjs', 'lz4-napi', 'lz4js (block)', '@bokuweb/zstd-wasm (level 3)', 'node:zlib deflate (level 1)']) {
    const ratio = Number(rows.get(codec)?.[2])
    expect(ratio, codec).toBeGreaterThan(0.3)
    expect(ratio, codec).toBeLessThan(0.9)
  }
  expect(run.stdout).toMatch(/data blocks \(\d+ B on average\)/)
}, 150_000)
