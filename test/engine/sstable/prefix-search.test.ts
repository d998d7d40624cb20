import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { compareInternalKeys, KIND_VALUE, makeInternalKey } from '../../../engine/src/keys.js'
import { findFile } from '../../../engine/src/version/version.js'
import type { FileMeta } from '../../../engine/src/version/file-meta.js'
import { buildTable, ik, openTable, sortEntries, type Entry } from './sstable-helpers.js'
import { BlockBuilder } from '../../../engine/src/sstable/block-builder.js'
import { Block } from '../../../engine/src/sstable/block.js'
import { IndexBlock } from '../../../engine/src/sstable/index-block.js'
import { encodeVarint64 } from '../../../engine/src/coding.js'

// The binary searches over a table's index and over a level's files skip the bytes the target is known to
// share with the keys left in the range. Keys with long common prefixes and versions of one key spread over
// several blocks or files are where a wrong skip would show.

/** Keys from a tiny alphabet with long shared prefixes, some of them prefixes of others. */
const keyArb = fc.array(fc.constantFrom('0', '1', 'a'), { minLength: 0, maxLength: 12 }).map((cs) => 'pfx/000000' + cs.join(''))

describe('prefix-skipping binary searches', () => {
  it('a table finds every key it holds, at every snapshot, and none it does not', () => {
    fc.assert(fc.property(fc.uniqueArray(keyArb, { minLength: 1, maxLength: 300 }), fc.array(keyArb, { maxLength: 50 }), (keys, probes) => {
      const entries: Entry[] = []
      // Three versions of each key: with tiny blocks, versions of one key straddle block boundaries.
      for (const k of keys) for (const seq of [30, 20, 10]) entries.push({ key: ik(k, seq), value: Buffer.from(`${k}@${seq}`) })
      const { fs, path } = buildTable(sortEntries(entries), { blockSize: 64, restartInterval: 2 })
      const t = openTable(fs, path)
      for (const k of keys) {
        expect(t.get(Buffer.from(k), 100)?.value.toString()).toBe(`${k}@30`)
        expect(t.get(Buffer.from(k), 25)?.value.toString()).toBe(`${k}@20`)
        expect(t.get(Buffer.from(k), 15)?.value.toString()).toBe(`${k}@10`)
        expect(t.get(Buffer.from(k), 5)).toBeUndefined()
      }
      const held = new Set(keys)
      for (const p of probes) if (!held.has(p)) expect(t.get(Buffer.from(p), 100)).toBeUndefined()
    }), { numRuns: 60 })
  })

  it('an index finds the first key >= any target, also targets without its keys\' shared prefix', () => {
    // Bytes 0 and 0xff, keys shorter than the prefix all index keys share and keys ending inside the 4-byte
    // window searched after that prefix: where the window search's zero padding and prefix check could slip.
    const bytesArb = fc.array(fc.constantFrom(0, 1, 0x30, 0x31, 0xff), { minLength: 0, maxLength: 7 })
    const keyOf = (pre: number[], tail: number[]): Buffer => Buffer.from([...pre, ...tail])
    const shared = [0x70, 0x66, 0x78]
    fc.assert(fc.property(
      fc.uniqueArray(bytesArb, { minLength: 1, maxLength: 60, selector: (b) => b.join(',') }),
      fc.array(fc.tuple(fc.boolean(), bytesArb, fc.integer({ min: 1, max: 40 })), { maxLength: 40 }),
      (tails, probes) => {
        const userKeys = tails.map((t) => keyOf(shared, t)).sort(Buffer.compare)
        const keys: Buffer[] = []
        for (const u of userKeys) for (const seq of [30, 10]) keys.push(makeInternalKey(u, seq, KIND_VALUE))
        const b = new BlockBuilder(1)
        const handle = Buffer.alloc(20)
        keys.forEach((k, i) => {
          const n = encodeVarint64(handle, encodeVarint64(handle, 0, i * 10), 5)
          b.add(k, handle.subarray(0, n))
        })
        const index = IndexBlock.decode(new Block(Buffer.from(b.finish()), 'index', 0), keys.length * 10 + 100)
        for (const [withPrefix, tail, seq] of probes) {
          // Half the targets have the shared prefix; the others are arbitrary bytes (shorter, smaller, larger).
          const target = makeInternalKey(withPrefix ? keyOf(shared, tail) : Buffer.from(tail), seq, KIND_VALUE)
          let expected = keys.findIndex((k) => compareInternalKeys(k, target) >= 0)
          if (expected < 0) expected = keys.length
          expect(index.seek(target)).toBe(expected)
        }
        for (let i = 0; i < keys.length; i++) expect(index.seek(keys[i])).toBe(i)
      }), { numRuns: 300 })
  })

  it('findFile agrees with a linear scan', () => {
    fc.assert(fc.property(fc.uniqueArray(keyArb, { minLength: 2, maxLength: 80 }), fc.array(fc.tuple(keyArb, fc.integer({ min: 1, max: 40 })), { maxLength: 40 }), (keys, targets) => {
      const sorted = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
      const files: FileMeta[] = []
      for (let i = 0; i + 1 < sorted.length; i += 2) {
        files.push({ number: i, size: 1, smallest: makeInternalKey(Buffer.from(sorted[i]), 20, KIND_VALUE), largest: makeInternalKey(Buffer.from(sorted[i + 1]), 20, KIND_VALUE), minSeq: 1, maxSeq: 30 })
      }
      for (const [k, seq] of targets) {
        const target = makeInternalKey(Buffer.from(k), seq, KIND_VALUE)
        let expected = files.findIndex((f) => compareInternalKeys(f.largest, target) >= 0)
        if (expected < 0) expected = files.length
        expect(findFile(files, target)).toBe(expected)
      }
    }), { numRuns: 200 })
  })
})
