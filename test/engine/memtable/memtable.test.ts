import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { Memtable } from '../../../engine/src/memtable/memtable.js'
import { MemtableRunIterator } from '../../../engine/src/memtable/run-iterator.js'
import { KIND_DELETE, KIND_RANGE_DELETE, KIND_VALUE, seqOf, lookupKey } from '../../../engine/src/keys.js'
import { encodeBatch } from '../../../engine/src/wal/batch.js'
import { seededRandom } from '../../support/random.mjs'

// The memtable's skip list links an entry that sorts past the tail straight after the last node of each
// level (sequential loads), and descends for the others. Mixed orders must leave both directions of the
// list and every level consistent: forward, backward and seeks agree with a sorted model.

const key = (i: number): string => `k${String(i).padStart(6, '0')}`

function check (m: Memtable, model: Array<[string, number]>): void {
  // Internal-key order: user key ascending, then sequence descending.
  const sorted = [...model].sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : b[1] - a[1])
  const it = m.iterator()
  const forward: Array<[string, number]> = []
  for (it.seekToFirst(); it.valid(); it.next()) forward.push([it.key().toString('latin1', 0, it.key().length - 8), seqOf(it.key())])
  expect(forward).toEqual(sorted)
  const backward: Array<[string, number]> = []
  for (it.seekToLast(); it.valid(); it.prev()) backward.push([it.key().toString('latin1', 0, it.key().length - 8), seqOf(it.key())])
  expect(backward).toEqual([...sorted].reverse())
  // Seeks land on the first entry at or after the target, and every key's newest version is found.
  for (let i = 0; i < sorted.length; i += Math.max(1, Math.floor(sorted.length / 50))) {
    const [k, seq] = sorted[i]
    it.seek(lookupKey(Buffer.from(k, 'latin1'), seq))
    expect(it.valid()).toBe(true)
    expect(seqOf(it.key())).toBe(seq)
    expect(m.lookup(k, Number.MAX_SAFE_INTEGER)?.seq).toBe(Math.max(...model.filter(([mk]) => mk === k).map(([, s]) => s)))
  }
}

describe('memtable skip list', () => {
  it('stays consistent under ascending, descending, random and mixed inserts', () => {
    const random = seededRandom(42)
    const orders: Record<string, number[]> = {
      ascending: Array.from({ length: 3000 }, (_, i) => i),
      descending: Array.from({ length: 3000 }, (_, i) => 2999 - i),
      random: Array.from({ length: 3000 }, () => Math.floor(random() * 1000)),
      // Runs appended past the tail, with inserts into the middle and repeats of the last key between them.
      mixed: Array.from({ length: 3000 }, (_, i) => i % 10 === 0 ? Math.floor(random() * i) : i % 10 === 5 ? i - 1 : i)
    }
    for (const [name, order] of Object.entries(orders)) {
      const m = new Memtable()
      const model: Array<[string, number]> = []
      let seq = 1
      for (const i of order) {
        const k = key(i)
        m.addString(k, seq, KIND_VALUE, Buffer.from(`${name}-${seq}`))
        model.push([k, seq])
        seq++
      }
      check(m, model)
    }
  })

  it('orders keys that share long prefixes, end inside the compared 8 bytes, or shrink the shared prefix late', () => {
    // The descent compares the 8 bytes after the prefix every key shares (zeros past a key's end), and a key
    // sharing less shrinks that prefix for every node. Zero bytes, keys that are prefixes of others and a
    // key without the prefix arriving after hundreds of keys with it are where that could misorder.
    const tail = fc.array(fc.constantFrom('\x00', '\x01', 'a', '\xff'), { minLength: 0, maxLength: 12 }).map((cs) => cs.join(''))
    const keyArb = fc.oneof({ weight: 9, arbitrary: tail.map((t) => 'pfx/00000' + t) }, { weight: 1, arbitrary: tail })
    fc.assert(fc.property(fc.array(keyArb, { minLength: 1, maxLength: 400 }), fc.array(keyArb, { maxLength: 20 }), (first, late) => {
      const m = new Memtable()
      const model: Array<[string, number]> = []
      let seq = 1
      for (const k of [...first, ...late]) {
        m.addString(k, seq, KIND_VALUE, Buffer.from(String(seq)))
        model.push([k, seq])
        seq++
      }
      check(m, model)
    }), { numRuns: 150 })
  })

  it('links a group (addBatch) as op by op: duplicates newest first, groups of every size, past the tail and between keys', () => {
    // addBatch sorts a group and finds each entry from the one before it: groups small and large, random and
    // ascending, spread over a table already holding keys, must give the list that addAt in op order gives.
    const random = seededRandom(11)
    const shapes: Array<{ name: string, size: () => number, key: (j: number, first: number) => string }> = [
      { name: 'random groups', size: () => Math.floor(random() * 200), key: () => key(Math.floor(random() * 400)) },
      { name: 'ascending groups past the tail', size: () => 1 + Math.floor(random() * 50), key: (j, first) => key(first + j) },
      { name: 'small groups', size: () => Math.floor(random() * 10), key: () => key(Math.floor(random() * 5000)) },
      // Keys that differ only past the 8 bytes a node holds (the first keys share nothing): long runs of one word.
      { name: 'keys alike past their words', size: () => Math.floor(random() * 300), key: (j) => j === 0 ? 'a' : `user/profile/${key(Math.floor(random() * 3000))}` }
    ]
    for (const shape of shapes) {
      const batched = new Memtable()
      const single = new Memtable()
      const model: Array<[string, number]> = []
      let seq = 1
      let first = 0
      while (model.length < 3000) {
        const n = shape.size()
        const ops = Array.from({ length: n }, (_, j) => {
          const k = shape.key(j, first)
          // Some range deletions among the points: addBatch leaves them to the caller.
          const kind = j % 17 === 3 ? KIND_RANGE_DELETE : j % 5 === 0 ? KIND_DELETE : KIND_VALUE
          return kind === KIND_DELETE ? { kind, key: k } : { kind, key: k, value: `${shape.name}-${seq + j}` }
        })
        first += n
        const slices: number[] = []
        encodeBatch(seq, ops, slices, batched)
        batched.addBatch(seq, ops, slices)
        ops.forEach((op, j) => {
          if (op.kind === KIND_RANGE_DELETE) return
          single.addString(op.key, seq + j, op.kind, Buffer.from(op.value ?? ''))
          model.push([op.key, seq + j])
        })
        seq += n
      }
      check(batched, model)
      expect(batched.entries).toBe(single.entries)
      expect(batched.minSeq).toBe(single.minSeq)
      expect(batched.maxSeq).toBe(single.maxSeq)
      const internalKeys = (m: Memtable): string[] => {
        const out: string[] = []
        const it = m.iterator()
        for (it.seekToFirst(); it.valid(); it.next()) out.push(`${it.key().toString('hex')}=${it.value().toString()}`)
        return out
      }
      expect(internalKeys(batched), shape.name).toEqual(internalKeys(single))
    }
  })

  it('hands a flush the same entries through its shared arena (MemtableRunIterator), without copying it', () => {
    const m = new Memtable()
    let seq = 1
    const r = seededRandom(7)
    for (let i = 0; i < 3000; i++) {
      // Keys past the iterator's first 64-byte key buffer, deletions, empty values and several versions.
      const k = i % 97 === 0 ? 'long/' + 'x'.repeat(100 + (i % 50)) + String(i) : key(Math.floor(r() * 1000))
      if (i % 5 === 0) m.add(seq++, KIND_DELETE, Buffer.from(k, 'latin1'), Buffer.alloc(0))
      else m.addString(k, seq++, KIND_VALUE, Buffer.from(i % 7 === 0 ? '' : `v${i}`))
    }
    const entries = (it: { seekToFirst: () => void, valid: () => boolean, next: () => void, key: () => Buffer, value: () => Buffer }): string[] => {
      const out: string[] = []
      for (it.seekToFirst(); it.valid(); it.next()) out.push(`${it.key().toString('hex')}=${it.value().toString('hex')}`)
      return out
    }
    const expected = entries(m.iterator())
    expect(expected).toHaveLength(3000)
    // What the worker gets: the run as structured clone delivers it (Buffers arrive as plain Uint8Arrays).
    const posted = structuredClone(m.run())
    expect(entries(new MemtableRunIterator(posted))).toEqual(expected)
    // Deletions and empty values come through with no value bytes (the keys' trailers say which is which).
    expect(expected.filter((e) => e.endsWith('=')).length).toBeGreaterThan(600)
    // Shared, not copied: a byte changed in the memtable's arena shows through the posted run.
    const data = m.run().data
    data[0] ^= 0xff
    expect(posted.data[0]).toBe(data[0])
  })
})
