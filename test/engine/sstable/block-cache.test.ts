import { describe, it, expect } from 'vitest'
import { Block } from '../../../engine/src/sstable/block.js'
import { BlockCache, ENTRY_OVERHEAD, FileBlocks } from '../../../engine/src/sstable/block-cache.js'
import { BlockBuilder } from '../../../engine/src/sstable/block-builder.js'
import { ik } from './sstable-helpers.js'
import { seededRandom } from '../../support/random.mjs'

const built = new Map<number, Buffer>()

/** A block of about `bytes` bytes (its own memory, as cached blocks are). */
function block (bytes: number, offset: number): Block {
  bytes = Math.ceil(bytes / 500) * 500
  const data = built.get(bytes) ?? buildBytes(bytes)
  built.set(bytes, data)
  return new Block(Buffer.concat([data, Buffer.alloc(5)]), 'x.sst', offset, data.length)
}

function buildBytes (bytes: number): Buffer {
  const b = new BlockBuilder(16)
  let i = 0
  while (b.currentSizeEstimate() < bytes) b.add(ik(`k${String(i++).padStart(6, '0')}`, 1), Buffer.alloc(20, 1))
  return Buffer.from(b.finish())
}

describe('block cache (CLOCK)', () => {
  it('stays within its byte budget under churn and counts hits and misses', () => {
    const cache = new BlockCache({ capacityBytes: 64 * 1024 })
    const fb = cache.fileBlocks(3, 200)
    const r = seededRandom(1)
    for (let n = 0; n < 5000; n++) {
      const i = Math.floor(r() * 200)
      if (cache.get(fb, i) === undefined) cache.set(fb, i, block(1000 + Math.floor(r() * 3000), i * 4096))
      expect(cache.stats().bytes).toBeLessThanOrEqual(64 * 1024)
    }
    const s = cache.stats()
    expect(s.hits + s.misses).toBe(5000)
    expect(s.hits).toBeGreaterThan(0)
    expect(s.entries).toBeGreaterThan(5)
    expect(fb.slots.filter((b) => b !== undefined).length).toBe(s.entries)
  })

  it('keeps blocks that are hit and evicts those that are not (second chance)', () => {
    const b = block(1000, 0)
    const perBlock = b.memoryBytes
    const cache = new BlockCache({ capacityBytes: 10 * (perBlock + ENTRY_OVERHEAD) + 10 })
    const fb = cache.fileBlocks(1, 20)
    for (let i = 0; i < 10; i++) cache.set(fb, i, block(1000, i * 4096))
    expect(cache.stats().entries).toBe(10)
    // Blocks 0..4 are hit; then 5 new blocks come in: the unhit ones go.
    for (let i = 0; i < 5; i++) expect(cache.get(fb, i)).toBeDefined()
    for (let i = 10; i < 15; i++) cache.set(fb, i, block(1000, i * 4096))
    for (let i = 0; i < 5; i++) expect(cache.get(fb, i), `hot block ${i}`).toBeDefined()
    for (let i = 5; i < 10; i++) expect(cache.get(fb, i), `cold block ${i}`).toBeUndefined()
    for (let i = 10; i < 15; i++) expect(cache.get(fb, i), `new block ${i}`).toBeDefined()
  })

  it('replaces a block cached at the same place, refuses one larger than the budget, drops a file, clears', () => {
    const cache = new BlockCache({ capacityBytes: 8 * 1024 })
    const f1 = cache.fileBlocks(1, 4)
    const a = block(1000, 0)
    const b = block(1500, 0)
    cache.set(f1, 0, a)
    cache.set(f1, 0, b)
    expect(cache.get(f1, 0)).toBe(b)
    expect(cache.stats().entries).toBe(1)
    expect(cache.stats().bytes).toBe(b.memoryBytes + ENTRY_OVERHEAD)
    cache.set(f1, 1, block(9000, 4096))
    expect(cache.get(f1, 1)).toBeUndefined()
    const f2 = cache.fileBlocks(2, 4)
    cache.set(f2, 0, block(1000, 0))
    // A table of file 2 opened again shares the slots: its blocks are still cached.
    expect(cache.fileBlocks(2, 4)).toBe(f2)
    expect(cache.get(cache.fileBlocks(2, 4), 0)).toBeDefined()
    cache.evictFile(1)
    expect(cache.get(f1, 0)).toBeUndefined()
    expect(cache.get(cache.fileBlocks(1, 4), 0)).toBeUndefined()
    expect(cache.get(f2, 0)).toBeDefined()
    expect(cache.stats().entries).toBe(1)
    cache.clear()
    expect(cache.stats()).toMatchObject({ entries: 0, bytes: 0 })
    expect(cache.get(f2, 0)).toBeUndefined()
    const none = new BlockCache({ capacityBytes: 0 })
    const fn = none.fileBlocks(1, 1)
    none.set(fn, 0, block(100, 0))
    expect(none.get(fn, 0)).toBeUndefined()
  })

  it('knows a file\'s slots only while they hold a block, and keeps one set of slots per file', () => {
    const cache = new BlockCache({ capacityBytes: 1 << 20 })
    // A table that caches nothing (a scan with fillCache off) leaves nothing behind in the cache.
    const scan = cache.fileBlocks(7, 4)
    expect(cache.files).toBe(0)
    expect(cache.fileBlocks(7, 4)).not.toBe(scan)
    const a = cache.fileBlocks(7, 4)
    cache.set(a, 0, block(1000, 0))
    expect(cache.files).toBe(1)
    expect(cache.fileBlocks(7, 4)).toBe(a)
    // Other slots of the same file (an old table still read by an iterator) do without the cache.
    const other = new FileBlocks(7, 4)
    cache.set(other, 1, block(1000, 4096))
    expect(cache.get(other, 1)).toBeUndefined()
    expect(cache.stats().entries).toBe(1)
    // The last block going forgets the slots; the table holding them caches again later.
    cache.evictFile(7)
    expect(cache.files).toBe(0)
    expect(cache.get(a, 0)).toBeUndefined()
    cache.set(a, 2, block(1000, 8192))
    cache.clear()
    expect(cache.files).toBe(0)
    cache.set(a, 3, block(1000, 12288))
    expect(cache.get(cache.fileBlocks(7, 4), 3)).toBeDefined()
    expect(cache.stats().entries).toBe(1)
  })

  it('drops many files and keeps working (the ring is compacted)', () => {
    const cache = new BlockCache({ capacityBytes: 1 << 20 })
    for (let f = 0; f < 20; f++) {
      const fb = cache.fileBlocks(f, 10)
      for (let i = 0; i < 10; i++) cache.set(fb, i, block(1000, i * 4096))
    }
    for (let f = 0; f < 19; f++) cache.evictFile(f)
    expect(cache.stats().entries).toBe(10)
    const last = cache.fileBlocks(19, 10)
    for (let i = 0; i < 10; i++) expect(cache.get(last, i)).toBeDefined()
    const big = cache.fileBlocks(100, 500)
    for (let i = 0; i < 500; i++) cache.set(big, i, block(1000, i * 4096))
    expect(cache.stats().bytes).toBeLessThanOrEqual(1 << 20)
    const held = (fb: FileBlocks): number => fb.slots.filter((x) => x !== undefined).length
    expect(held(big) + held(last)).toBe(cache.stats().entries)
  })
})
