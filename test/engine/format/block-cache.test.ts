import { describe, it, expect } from 'vitest'
import { Block } from '../../../engine/src/sstable/block.js'
import { BlockCache, ENTRY_OVERHEAD } from '../../../engine/src/sstable/block-cache.js'
import { BlockBuilder } from '../../../engine/src/sstable/block-builder.js'
import { ik, prng } from './sstable-helpers.js'

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
    const r = prng(1)
    for (let i = 0; i < 5000; i++) {
      const off = Math.floor(r() * 200) * 4096
      if (cache.get(3, off) === undefined) cache.set(3, off, block(1000 + Math.floor(r() * 3000), off))
      expect(cache.stats().bytes).toBeLessThanOrEqual(64 * 1024)
    }
    const s = cache.stats()
    expect(s.hits + s.misses).toBe(5000)
    expect(s.hits).toBeGreaterThan(0)
    expect(s.entries).toBeGreaterThan(5)
  })

  it('keeps blocks that are hit and evicts those that are not (second chance)', () => {
    const b = block(1000, 0)
    const perBlock = b.memoryBytes
    const cache = new BlockCache({ capacityBytes: 10 * (perBlock + ENTRY_OVERHEAD) + 10 })
    for (let i = 0; i < 10; i++) cache.set(1, i * 4096, block(1000, i * 4096))
    expect(cache.stats().entries).toBe(10)
    // Blocks 0..4 are hit; then 5 new blocks come in: the unhit ones go.
    for (let i = 0; i < 5; i++) expect(cache.get(1, i * 4096)).toBeDefined()
    for (let i = 10; i < 15; i++) cache.set(1, i * 4096, block(1000, i * 4096))
    for (let i = 0; i < 5; i++) expect(cache.get(1, i * 4096), `hot block ${i}`).toBeDefined()
    for (let i = 5; i < 10; i++) expect(cache.get(1, i * 4096), `cold block ${i}`).toBeUndefined()
    for (let i = 10; i < 15; i++) expect(cache.get(1, i * 4096), `new block ${i}`).toBeDefined()
  })

  it('replaces a block cached at the same place, refuses one larger than the budget, drops a file, clears', () => {
    const cache = new BlockCache({ capacityBytes: 8 * 1024 })
    const a = block(1000, 0)
    const b = block(1500, 0)
    cache.set(1, 0, a)
    cache.set(1, 0, b)
    expect(cache.get(1, 0)).toBe(b)
    expect(cache.stats().entries).toBe(1)
    expect(cache.stats().bytes).toBe(b.memoryBytes + ENTRY_OVERHEAD)
    cache.set(1, 4096, block(9000, 4096))
    expect(cache.get(1, 4096)).toBeUndefined()
    cache.set(2, 0, block(1000, 0))
    cache.set(2 ** 22, 2 ** 33, block(1000, 0)) // a key too large to pack: still cached and dropped by file
    expect(cache.get(2 ** 22, 2 ** 33)).toBeDefined()
    cache.evictFile(1)
    expect(cache.get(1, 0)).toBeUndefined()
    expect(cache.get(2, 0)).toBeDefined()
    cache.evictFile(2 ** 22)
    expect(cache.get(2 ** 22, 2 ** 33)).toBeUndefined()
    expect(cache.stats().entries).toBe(1)
    cache.clear()
    expect(cache.stats()).toMatchObject({ entries: 0, bytes: 0 })
    const none = new BlockCache({ capacityBytes: 0 })
    none.set(1, 0, block(100, 0))
    expect(none.get(1, 0)).toBeUndefined()
  })

  it('drops many files and keeps working (the ring is compacted)', () => {
    const cache = new BlockCache({ capacityBytes: 1 << 20 })
    for (let f = 0; f < 20; f++) for (let i = 0; i < 10; i++) cache.set(f, i * 4096, block(1000, i * 4096))
    for (let f = 0; f < 19; f++) cache.evictFile(f)
    expect(cache.stats().entries).toBe(10)
    for (let i = 0; i < 10; i++) expect(cache.get(19, i * 4096)).toBeDefined()
    for (let i = 0; i < 500; i++) cache.set(100, i * 4096, block(1000, i * 4096))
    expect(cache.stats().bytes).toBeLessThanOrEqual(1 << 20)
  })
})
