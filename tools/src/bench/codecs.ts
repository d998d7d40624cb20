import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { deflateRawSync, inflateRawSync } from 'node:zlib'
import { BATCH_SIZE, KeySpace, Permutation } from './key-space.js'

// `npm run bench:codecs`: the block codecs lsm-level could use, measured on real data blocks of its own
// tables (bench:engine's keys and values, written and compacted by the engine), one block at a time as a
// cache miss decodes it. Prints, per codec: the ratio (stored / raw bytes, with blocks that do not shrink by
// 12.5 % stored raw, as the engine does) and the CPU time to decode and to encode one block. The candidates
// are devDependencies, except zstd-napi, which has no prebuilt binary in the npm registry and compiles at
// install (`npm install --no-save zstd-napi` with install scripts allowed); one that does not load is
// listed as such, not measured.

interface Codec {
  name: string
  kind: 'native' | 'wasm' | 'JavaScript'
  encode: (raw: Buffer) => Uint8Array
  decode: (stored: Uint8Array, rawLength: number) => Uint8Array
}

const require = createRequire(import.meta.url)
const count = Number(process.argv[2] ?? 200_000)
/** Writes count entries in random order, compacts, and returns every data block's contents (trailer excluded). */
async function realBlocks (location: string, count: number): Promise<Buffer[]> {
  const specifier: string = 'lsm-level'
  const { LsmLevel } = await import(specifier) as { LsmLevel: new (location: string, options?: object) => any }
  const tools: string = 'lsm-level/tools'
  const { Table, RealFileSystem } = await import(tools) as typeof import('lsm-level/tools')
  // compression off: the blocks measured are the raw ones every codec starts from.
  const db = new LsmLevel(location, { compression: false })
  await db.open()
  const keys = new KeySpace(count, 100)
  const order = new Permutation(count, 'codecs')
  for (let i = 0; i < count; i += BATCH_SIZE) {
    const ops = []
    for (let j = i; j < Math.min(count, i + BATCH_SIZE); j++) ops.push({ type: 'put', key: keys.key(order.at(j)), value: keys.value(j) })
    await db.batch(ops)
  }
  await db.compactRange(null, null)
  await db.close()
  const fs = new RealFileSystem()
  const blocks: Buffer[] = []
  for (const name of readdirSync(location).filter(n => n.endsWith('.sst'))) {
    const file = fs.openReadable(join(location, name))
    const table = Table.open(file, { fileNumber: 1, fileName: name })
    const it = table.newIndexIterator()
    for (it.seekToFirst(); it.valid(); it.next()) {
      const block = table.dataBlockAt(it, true, false, null)
      blocks.push(Buffer.from(block.data.subarray(0, block.size)))
    }
    file.close()
  }
  return blocks
}

function measure (codec: Codec, blocks: Buffer[]): string[] {
  const stored = blocks.map(b => codec.encode(b))
  for (let i = 0; i < blocks.length; i++) {
    if (!Buffer.from(codec.decode(stored[i], blocks[i].length)).equals(blocks[i])) throw new Error(`${codec.name} does not round-trip`)
  }
  let total = 0
  for (let i = 0; i < blocks.length; i++) total += stored[i].length <= blocks[i].length * 7 / 8 ? stored[i].length : blocks[i].length
  const raw = blocks.reduce((n, b) => n + b.length, 0)
  const decode = median(5, () => { for (let i = 0; i < blocks.length; i++) codec.decode(stored[i], blocks[i].length) }) / blocks.length
  const encode = median(5, () => { for (const b of blocks) codec.encode(b) }) / blocks.length
  return [codec.name, codec.kind, (total / raw).toFixed(3), (decode * 1000).toFixed(2), (raw / blocks.length / (decode * 1000)).toFixed(0), (encode * 1000).toFixed(2)]
}

/**
 * Median CPU time (user + system) in ms of `passes` calls of f, after one warm-up call. CPU time rather than
 * wall time: on a shared machine, waiting for a core is not the codec's cost.
 */
function median (passes: number, f: () => void): number {
  f()
  const times: number[] = []
  for (let i = 0; i < passes; i++) {
    const t = process.cpuUsage()
    f()
    const used = process.cpuUsage(t)
    times.push((used.user + used.system) / 1000)
  }
  return times.sort((a, b) => a - b)[Math.floor(passes / 2)]
}

type Loader = () => Promise<Codec>
const CANDIDATES: Array<{ name: string, load: Loader }> = [
  {
    name: 'snappy',
    load: async () => {
      const m = require('snappy') as { compressSync: (b: Buffer) => Buffer, uncompressSync: (b: Uint8Array) => Buffer }
      return { name: 'snappy', kind: 'native', encode: b => m.compressSync(b), decode: s => m.uncompressSync(s) }
    }
  },
  {
    name: 'snappyjs',
    load: async () => {
      const m = require('snappyjs') as { compress: (b: Uint8Array) => Uint8Array, uncompress: (b: Uint8Array) => Uint8Array }
      return { name: 'snappyjs', kind: 'JavaScript', encode: b => m.compress(b), decode: s => m.uncompress(s) }
    }
  },
  {
    name: 'lz4-napi',
    load: async () => {
      const m = require('lz4-napi') as { compressSync: (b: Buffer) => Buffer, uncompressSync: (b: Uint8Array) => Buffer }
      return { name: 'lz4-napi', kind: 'native', encode: b => m.compressSync(b), decode: s => m.uncompressSync(s) }
    }
  },
  {
    name: 'lz4js (block)',
    load: async () => {
      const m = require('lz4js') as {
        compressBound: (n: number) => number
        compressBlock: (src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, hashTable: Uint32Array) => number
        decompressBlock: (src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, dIndex: number) => number
      }
      return {
        name: 'lz4js (block)',
        kind: 'JavaScript',
        encode: b => {
          const dst = new Uint8Array(m.compressBound(b.length))
          const n = m.compressBlock(b, dst, 0, b.length, new Uint32Array(1 << 16))
          // compressBlock answers 0 for input it cannot shrink: store it as a literal-only marker (never chosen).
          return n === 0 ? new Uint8Array(b.length + 1) : dst.subarray(0, n)
        },
        decode: (s, rawLength) => {
          const dst = new Uint8Array(rawLength)
          m.decompressBlock(s, dst, 0, s.length, 0)
          return dst
        }
      }
    }
  },
  {
    name: 'zstd-napi (level 3)',
    load: async () => {
      const m = require('zstd-napi') as { compress: (b: Buffer, p?: object) => Buffer, decompress: (b: Uint8Array) => Buffer }
      return { name: 'zstd-napi (level 3)', kind: 'native', encode: b => m.compress(b, { compressionLevel: 3 }), decode: s => m.decompress(s) }
    }
  },
  {
    name: 'zstd-napi (level 1)',
    load: async () => {
      const m = require('zstd-napi') as { compress: (b: Buffer, p?: object) => Buffer, decompress: (b: Uint8Array) => Buffer }
      return { name: 'zstd-napi (level 1)', kind: 'native', encode: b => m.compress(b, { compressionLevel: 1 }), decode: s => m.decompress(s) }
    }
  },
  {
    name: '@bokuweb/zstd-wasm (level 3)',
    load: async () => {
      const m = require('@bokuweb/zstd-wasm') as { init: () => Promise<void>, compress: (b: Uint8Array, level: number) => Uint8Array, decompress: (b: Uint8Array) => Uint8Array }
      await m.init()
      return { name: '@bokuweb/zstd-wasm (level 3)', kind: 'wasm', encode: b => m.compress(b, 3), decode: s => m.decompress(s) }
    }
  },
  {
    name: 'fzstd (decode only; zstd level 3)',
    load: async () => {
      const m = require('fzstd') as { decompress: (b: Uint8Array, out?: Uint8Array) => Uint8Array }
      const z = require('@bokuweb/zstd-wasm') as { init: () => Promise<void>, compress: (b: Uint8Array, level: number) => Uint8Array }
      await z.init()
      return { name: 'fzstd (decode only; zstd level 3)', kind: 'JavaScript', encode: b => z.compress(b, 3), decode: (s, n) => m.decompress(s, new Uint8Array(n)) }
    }
  },
  {
    name: 'node:zlib deflate (level 1)',
    load: async () => ({
      name: 'node:zlib deflate (level 1)', kind: 'native', encode: b => deflateRawSync(b, { level: 1 }), decode: s => inflateRawSync(s)
    })
  }
]

async function main (): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'levelring-codecs-'))
  try {
    const blocks = await realBlocks(join(root, 'db'), count)
    const rawBytes = blocks.reduce((n, b) => n + b.length, 0)
    process.stdout.write(`\nbench:codecs — ${blocks.length.toLocaleString('en-US')} data blocks (${(rawBytes / blocks.length).toFixed(0)} B on average) ` +
      `of a compacted ${count.toLocaleString('en-US')}-entry database (16 B keys, 100 B values); ${cpus()[0]?.model ?? ''}, Node ${process.version}\n\n`)
    const rows: string[][] = []
    for (const { load, name } of CANDIDATES) {
      let codec: Codec
      try {
        codec = await load()
      } catch (err) {
        rows.push([name, '-', `does not load: ${(err instanceof Error ? err.message : String(err)).split('\n')[0].slice(0, 70)}`, '', '', ''])
        continue
      }
      rows.push(measure(codec, blocks))
    }
    const header = ['codec', 'kind', 'stored ÷ raw', 'decode µs/block', 'decode MB/s', 'encode µs/block']
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => r[i].length)))
    const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join('  ')
    process.stdout.write(line(header) + '\n' + line(widths.map(w => '-'.repeat(w))) + '\n' + rows.map(line).join('\n') + '\n')
    process.stdout.write('\nstored ÷ raw counts a block that does not shrink by 12.5 % at its raw size; times are CPU time, medians of 5 passes over every block.\n')
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

await main()
