import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { Memtable } from '../../../engine/src/memtable/memtable.js'
import { ArenaPool } from '../../../engine/src/memtable/arena-pool.js'
import { MemtableRunIterator } from '../../../engine/src/memtable/run-iterator.js'
import { KIND_DELETE, KIND_VALUE, kindOf, seqOf } from '../../../engine/src/keys.js'
import { encodeBatch } from '../../../engine/src/wal/batch.js'

// A flush reads a frozen memtable through MemtableRunIterator: the skip list's bottom level, read ahead a
// few dozen nodes at a time, with one key buffer reused while keys keep their length. Whatever the entries
// (keys of every length, deletions, empty and large values, several versions of a key, more entries than
// one read-ahead, an arena reused from an earlier memtable), it must yield exactly what a sorted model of
// the writes holds, and what the memtable's own iterator yields.

interface Write { key: string, kind: number, value: string }

const writeArb: fc.Arbitrary<Write> = fc.record({
  // Few distinct short keys (versions of one key), and some long ones (a key buffer of another length).
  key: fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: 60 }).map((i) => `k${String(i).padStart(3, '0')}`) },
    // String keys are ASCII (their bytes are their characters): the empty key and control bytes included.
    { weight: 2, arbitrary: fc.array(fc.integer({ min: 0, max: 127 }), { maxLength: 3 }).map((cs) => String.fromCharCode(...cs)) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 400 }).map((n) => 'long/' + 'x'.repeat(n)) }
  ),
  kind: fc.constantFrom(KIND_VALUE, KIND_VALUE, KIND_VALUE, KIND_DELETE),
  value: fc.oneof(fc.constant(''), fc.string({ maxLength: 20 }), fc.integer({ min: 60, max: 3000 }).map((n) => 'v'.repeat(n)))
})

/** Every entry the iterator yields, as [user key hex, seq, kind, value hex], copied at once. */
function drain (it: { seekToFirst: () => void, valid: () => boolean, next: () => void, key: () => Buffer, value: () => Buffer }): Array<[string, number, number, string]> {
  const out: Array<[string, number, number, string]> = []
  for (it.seekToFirst(); it.valid(); it.next()) {
    const k = it.key()
    out.push([k.subarray(0, k.length - 8).toString('hex'), seqOf(k), kindOf(k), it.value().toString('hex')])
  }
  return out
}

function fill (m: Memtable, groups: Write[][]): Array<[string, number, number, string]> {
  const model: Array<[string, number, number, string]> = []
  let seq = 1
  for (const group of groups) {
    const ops = group.map((w) => w.kind === KIND_DELETE ? { kind: KIND_DELETE, key: w.key } : { kind: KIND_VALUE, key: w.key, value: w.value })
    const slices: number[] = []
    encodeBatch(seq, ops, slices, m)
    m.addBatch(seq, ops, slices)
    group.forEach((w, j) => model.push([Buffer.from(w.key, 'latin1').toString('hex'), seq + j, w.kind, w.kind === KIND_DELETE ? '' : Buffer.from(w.value, 'utf8').toString('hex')]))
    seq += group.length
  }
  // Internal-key order: user key bytes ascending, then sequence descending.
  return model.sort((a, b) => {
    const c = Buffer.compare(Buffer.from(a[0], 'hex'), Buffer.from(b[0], 'hex'))
    return c !== 0 ? c : b[1] - a[1]
  })
}

describe('memtable run iterator (what a flush reads)', () => {
  it('yields every entry of a sorted model, as the memtable iterator does, in a new arena and a reused one', () => {
    fc.assert(fc.property(fc.array(fc.array(writeArb, { maxLength: 120 }), { maxLength: 8 }), (groups) => {
      const pool = new ArenaPool(4096, 1)
      // An arena that held other entries first: the run must not show any of them.
      const earlier = new Memtable(pool)
      fill(earlier, [Array.from({ length: 300 }, (_, i) => ({ key: `old${i}`, kind: KIND_VALUE, value: 'stale' }))])
      earlier.unref()
      const m = new Memtable(pool)
      const model = fill(m, groups)
      const run = drain(new MemtableRunIterator(structuredClone(m.run())))
      expect(run).toEqual(model)
      expect(drain(m.iterator())).toEqual(model)
    }), { numRuns: 200 })
  })

  it('reads a list far longer than one read-ahead, with keys changing length at every entry', () => {
    const m = new Memtable()
    const writes: Write[] = Array.from({ length: 5000 }, (_, i) => ({ key: 'k'.repeat(1 + (i * 7919) % 13) + String((i * 104729) % 5000), kind: i % 9 === 0 ? KIND_DELETE : KIND_VALUE, value: `value-${i}` }))
    const model = fill(m, [writes.slice(0, 2500), writes.slice(2500)])
    expect(drain(new MemtableRunIterator(m.run()))).toEqual(model)
  })
})
