// `npm run bench:range-tombstones`: what live range tombstones cost a point read in lsm-level, in
// process. A node that gives partitions up drops each run of them as a range (a range tombstone per
// space); until the engine retires them, every read of a key written before them checks them. Two
// engines hold the same live keys under the node's layout (8 hex digits of partition prefix, Q=2048):
// one never held the dropped partitions, the other held them and dropped them as RUNS ranges in each of
// SPACES spaces, as a 3 -> 4 join leaves an old node. Random reads of live keys, the same in both, are
// timed before the drop and with the tombstones live, the engine that never held the dropped keys read in
// the same passes as the yardstick of the machine's load; then the engine is left to retire them (a trickle of writes, as a
// node's metadata makes, in both) and the time that takes and the reads after it are printed.
//
//   node dist/tools/src/bench/range-tombstones.js [--keys 200000] [--runs 172] [--spaces 3] [--reads 200000] [--retire-seconds 120]
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const { values: args } = parseArgs({
  options: {
    keys: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '172' },
    spaces: { type: 'string', default: '3' },
    reads: { type: 'string', default: '200000' },
    'retire-seconds': { type: 'string', default: '120' }
  }
})
const KEYS = Number(args.keys)
const RUNS = Number(args.runs)
const SPACES = ['o', 't', 'k'].slice(0, Number(args.spaces))
const READS = Number(args.reads)
/** How long the engine is left to retire the tombstones before the last figures are taken. */
const RETIRE_MS = 1000 * Number(args['retire-seconds'])
const Q = 2048
/** Partitions per dropped run: a 3 -> 4 join gives up a quarter of the partitions. */
const RUN_PARTITIONS = Math.max(1, Math.floor(Q / 4 / RUNS))
const PARTITION_SPAN = 2 ** 32 / Q

interface Db {
  open: () => Promise<void>
  close: () => Promise<void>
  batch: (ops: Array<{ type: 'put', key: string, value: string }>) => Promise<void>
  put: (key: string, value: string) => Promise<void>
  clear: (range: { gte: string, lt: string }) => Promise<void>
  getSync: (key: string) => string | undefined
  get: (key: string) => Promise<string | undefined>
  getProperty: (name: string) => { rangeTombstones: number }
}

const hex8 = (n: number): string => n.toString(16).padStart(8, '0')
/** A fixed pseudo-random 32-bit prefix per key (the node hashes the key). */
const prefixOf = (i: number): number => (Math.imul(i + 1, 2654435761) >>> 0)
const keyOf = (space: string, i: number): string => `!${space}!${hex8(prefixOf(i))}key-${String(i).padStart(8, '0')}`
/** The first partition of each dropped run, spread over the ring. */
const runStarts = Array.from({ length: RUNS }, (_, r) => Math.floor(r * Q / RUNS))
const dropped = (i: number): boolean => {
  const p = Math.floor(prefixOf(i) / PARTITION_SPAN)
  return runStarts.some((s) => p >= s && p < s + RUN_PARTITIONS)
}

async function load (db: Db, all: boolean): Promise<void> {
  for (let first = 0; first < KEYS; first += 5_000) {
    const ops: Array<{ type: 'put', key: string, value: string }> = []
    for (let i = first; i < Math.min(KEYS, first + 5_000); i++) {
      if (!all && dropped(i)) continue
      for (const space of SPACES) ops.push({ type: 'put', key: keyOf(space, i), value: 'v'.repeat(space === 'o' ? 100 : 8) })
    }
    await db.batch(ops)
  }
}

async function dropRuns (db: Db): Promise<void> {
  for (const s of runStarts) {
    for (const space of SPACES) {
      await db.clear({ gte: `!${space}!${hex8(s * PARTITION_SPAN)}`, lt: `!${space}!${hex8((s + RUN_PARTITIONS) * PARTITION_SPAN)}` })
    }
  }
}

/** Reads per second of `keys` (getSync) in each of `dbs`, best of five passes, the passes interleaved so that a shared machine's load falls on all alike. */
function readRates (dbs: readonly Db[], keys: readonly string[]): number[] {
  const best = dbs.map(() => 0)
  for (let pass = 0; pass < 5; pass++) {
    for (const [d, db] of dbs.entries()) {
      const started = performance.now()
      let found = 0
      for (const key of keys) if (db.getSync(key) !== undefined) found++
      const ms = performance.now() - started
      if (found !== keys.length) throw new Error(`read ${found} of ${keys.length} live keys`)
      best[d] = Math.max(best[d]!, keys.length / ms * 1000)
    }
  }
  return best
}

async function main (): Promise<void> {
  const specifier: string = 'lsm-level'
  const { LsmLevel } = await import(specifier) as { LsmLevel: new (location: string, options?: object) => Db }
  const root = mkdtempSync(join(tmpdir(), 'levelring-range-tombstones-'))
  try {
    const live = Array.from({ length: KEYS }, (_, i) => i).filter((i) => !dropped(i))
    let seed = 7
    const reads = Array.from({ length: READS }, () => { seed = (Math.imul(seed, 48271) >>> 0) % 2147483647; return keyOf('o', live[seed % live.length]!) })

    const control = new LsmLevel(join(root, 'control'), { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    await control.open()
    await load(control, false)
    const dropping = new LsmLevel(join(root, 'dropped'), { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    await dropping.open()
    await load(dropping, true)
    // Both settle on disk first: the reads find their values in tables, as on a node that holds data.
    for (const db of [control, dropping]) { await db.close(); await db.open() }
    // A node's memtable always holds something (metadata, writes): so do both, and reads probe it in both.
    for (const db of [control, dropping]) await db.put('!meta!started', 'x')
    const [control0, before] = readRates([control, dropping], reads)
    await dropRuns(dropping)
    const tombstones = dropping.getProperty('lsm.stats').rangeTombstones
    const [control1, justAfter] = readRates([control, dropping], reads)

    // Left alone but for a write every 50 ms, the engine flushes the tombstones and retires them one by one.
    const started = performance.now()
    let writes = 0
    while (dropping.getProperty('lsm.stats').rangeTombstones > 0 && performance.now() - started < RETIRE_MS) {
      for (const db of [control, dropping]) await db.put(`!meta!tick-${writes}`, 'x')
      writes++
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const retiredMs = performance.now() - started
    const left = dropping.getProperty('lsm.stats').rangeTombstones
    const [control2, later] = readRates([control, dropping], reads)

    const f = (n: number): string => Math.round(n).toLocaleString('en')
    const x = (a: number, b: number): string => `${(a / b).toFixed(2)}x`
    console.log(`lsm-level point reads (getSync, ${f(READS)} random live keys of ${f(live.length)}, values 100 B, Q ${Q}, ${RUNS} dropped runs of ${RUN_PARTITIONS} partitions in ${SPACES.length} spaces)`)
    console.log('| engine that held the dropped keys | live range tombstones | reads/s | vs before the drop | engine that never held them, reads/s (same passes) |')
    console.log('| --- | --- | --- | --- | --- |')
    console.log(`| before the drop | 0 | ${f(before)} | 1.00x | ${f(control0)} |`)
    console.log(`| just after the drop | ${tombstones} | ${f(justAfter)} | ${x(justAfter / control1, before / control0)} | ${f(control1)} |`)
    console.log(`| ${(retiredMs / 1000).toFixed(1)} s later (${writes} writes) | ${left} | ${f(later)} | ${x(later / control2, before / control0)} | ${f(control2)} |`)
    console.log('(vs before the drop: the ratio of each row to the engine that never held them in the same passes, over that ratio before the drop)')

    // The check alone, on the same tombstones and keys: one by one, and through the index reads use.
    const tools: string = 'lsm-level/tools'
    const { anyTombstoneCovers, RangeTombstoneIndex } = await import(tools) as typeof import('lsm-level/tools')
    const list = runStarts.flatMap((s0, r) => SPACES.map((space, j) => ({
      seq: 1_000_000 + r * SPACES.length + j,
      start: Buffer.from(`!${space}!${hex8(s0 * PARTITION_SPAN)}`),
      end: Buffer.from(`!${space}!${hex8((s0 + RUN_PARTITIONS) * PARTITION_SPAN)}`)
    })))
    const index = new RangeTombstoneIndex(list)
    const probes = reads.map((k) => Buffer.from(k))
    const checks = [(k: Buffer): boolean => anyTombstoneCovers(list, k, 1, Number.MAX_SAFE_INTEGER), (k: Buffer): boolean => index.covers(k.toString('latin1'), 1, Number.MAX_SAFE_INTEGER)]
    const ns = checks.map(() => Infinity)
    for (let pass = 0; pass < 5; pass++) {
      for (const [c, check] of checks.entries()) {
        const t = performance.now()
        let hidden = 0
        for (const k of probes) if (check(k)) hidden++
        if (hidden !== 0) throw new Error(`${hidden} live keys reported hidden`)
        ns[c] = Math.min(ns[c]!, (performance.now() - t) * 1e6 / probes.length)
      }
    }
    console.log(`\nthe check alone, ${list.length} tombstones, per read of a key written before them: one by one ${ns[0]!.toFixed(0)} ns, ` +
      `through the index ${ns[1]!.toFixed(0)} ns (${(ns[0]! / ns[1]!).toFixed(0)}x less); a read of the engine that never held them took ${f(1e9 / control0)} ns here`)
    await control.close()
    await dropping.close()
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

await main()
