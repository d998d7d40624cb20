// heap-diff names per-key state: between two heap snapshots of a small real process that stores 5,000
// keys in a Map of Buffers, the Buffers show up as grown by about 5,000 and as held by the Map's table.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, test } from 'vitest'
import { tempRoot } from '../support/temp-dir.js'

const SCRIPT = join(fileURLToPath(new URL('../../', import.meta.url)), 'dist/tools/src/bench/heap-diff.js')
const KEYS = 5000
const dir = tempRoot('heap-diff')

/** The last cell of a console.table row, as a number. */
const lastCell = (line: string): number => Number(line.split('│').at(-2)!.trim())

test('heap-diff shows a per-key Map of Buffers as grown by the keys added, and what holds them', () => {
  const program = `
    const v8 = require('node:v8')
    const held = new Map()
    v8.writeHeapSnapshot(${JSON.stringify(join(dir, 'before.heapsnapshot'))})
    for (let i = 0; i < ${KEYS}; i++) held.set('key-' + i, Buffer.alloc(20, i))
    v8.writeHeapSnapshot(${JSON.stringify(join(dir, 'after.heapsnapshot'))})
    if (held.size !== ${KEYS}) process.exit(1)`
  const write = spawnSync(process.execPath, ['-e', program], { encoding: 'utf8', timeout: 60_000 })
  expect(write.status, write.stderr).toBe(0)
  const run = spawnSync(process.execPath, [SCRIPT, join(dir, 'before.heapsnapshot'), join(dir, 'after.heapsnapshot'), '--retainers', 'object:Buffer'],
    { encoding: 'utf8', timeout: 60_000 })
  expect(run.status, run.stderr).toBe(0)
  const buffers = run.stdout.split('\n').find((line) => line.includes("'object:Buffer'") && !line.includes('<-'))
  expect(buffers, run.stdout).toBeDefined()
  const grown = lastCell(buffers!)
  expect(grown).toBeGreaterThanOrEqual(KEYS)
  expect(grown).toBeLessThan(KEYS * 1.1)
  // A Map keeps its entries in a hash table, an internal array of the heap.
  const heldByTable = run.stdout.split('\n').find((line) => line.includes('object:Buffer <- array:') && line.includes('(internal)'))
  expect(heldByTable, run.stdout).toBeDefined()
  expect(lastCell(heldByTable!)).toBeGreaterThanOrEqual(KEYS)
}, 120_000)
