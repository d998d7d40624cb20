import { describe, it, expect } from 'vitest'
import { expand } from '../../../engine/src/compaction/pick.js'
import { Version, NUM_LEVELS } from '../../../engine/src/version/version.js'
import type { FileMeta } from '../../../engine/src/version/file-meta.js'
import { KIND_DELETE, KIND_VALUE, makeInternalKey } from '../../../engine/src/keys.js'
import { Memtable } from '../../../engine/src/memtable/memtable.js'

// Which files a compaction takes decides how often each byte is rewritten (write amplification). These
// pin down LevelDB's rule that expand() follows: take in more files of the upper level when that costs no
// more files of the lower level, within a size cap.

const MiB = 1024 * 1024
let nextNumber = 1
function file (from: string, to: string, size = 2 * MiB): FileMeta {
  return {
    number: nextNumber++,
    size,
    smallest: makeInternalKey(Buffer.from(from), 10, KIND_VALUE),
    largest: makeInternalKey(Buffer.from(to), 10, KIND_VALUE),
    minSeq: 1,
    maxSeq: 10
  }
}
function version (l1: FileMeta[], l2: FileMeta[]): Version {
  const levels: FileMeta[][] = Array.from({ length: NUM_LEVELS }, () => [])
  levels[1] = l1
  levels[2] = l2
  return new Version(levels, [])
}
const numbers = (files: readonly FileMeta[]): number[] => files.map((f) => f.number)

describe('expand(): the inputs of a compaction', () => {
  it('takes in the neighbours of the picked file that lie inside the lower level inputs\' range', () => {
    const l1 = [file('a', 'c'), file('d', 'f'), file('g', 'i'), file('p', 'q')]
    const l2 = [file('a', 'e'), file('e', 'j'), file('k', 'z')]
    const c = expand(version(l1, l2), 1, [l1[1]], 2 * MiB)
    // d..f meets a..e and e..j, which span a..j: a..c and g..i fit in that span, p..q does not.
    expect(numbers(c.inputs[0])).toEqual(numbers(l1.slice(0, 3)))
    expect(numbers(c.inputs[1])).toEqual(numbers(l2.slice(0, 2)))
  })

  it('does not expand when more files of the upper level would pull in another lower file', () => {
    const l1 = [file('a', 'c'), file('d', 'f'), file('g', 'm')]
    const l2 = [file('a', 'e'), file('e', 'j'), file('k', 'z')]
    const c = expand(version(l1, l2), 1, [l1[1]], 2 * MiB)
    // g..m lies partly inside a..j but reaches k..z: taking it would cost one more lower file. a..c alone
    // would not, but LevelDB's rule takes the whole overlapping set or nothing.
    expect(numbers(c.inputs[0])).toEqual([l1[1].number])
    expect(numbers(c.inputs[1])).toEqual(numbers(l2.slice(0, 2)))
  })

  it('stays within the cap of 25 output files', () => {
    const l1 = [file('a', 'c', 20 * MiB), file('d', 'f', 20 * MiB), file('g', 'i', 20 * MiB)]
    const l2 = [file('a', 'e', 4 * MiB), file('e', 'j', 4 * MiB)]
    const c = expand(version(l1, l2), 1, [l1[1]], 2 * MiB)
    expect(numbers(c.inputs[0])).toEqual([l1[1].number])
  })
})

describe('memtable accounting', () => {
  it('charges keys and values and 32 bytes per entry towards writeBufferSize, not the memory of its index', () => {
    const m = new Memtable()
    const value = Buffer.alloc(100, 1)
    for (let i = 0; i < 1000; i++) m.add(i + 1, KIND_VALUE, Buffer.from(`key-${String(i).padStart(12, '0')}`), value)
    expect(m.approximateBytes).toBe(1000 * (16 + 100 + 32))
    // The memory behind it is more: the skip list and hash index per entry.
    expect(m.memoryBytes).toBeGreaterThan(m.approximateBytes)
    m.unref()
  })

  it('counts entries without values by their memory, so that a memtable never takes more than 1.35x its charge', () => {
    const m = new Memtable()
    for (let i = 0; i < 1000; i++) m.add(i + 1, KIND_DELETE, Buffer.from(`key-${String(i).padStart(12, '0')}`), Buffer.alloc(0))
    // LevelDB's charge would be 1000 * (16 + 32); the skip list and index take more than 1.35x that.
    expect(m.approximateBytes).toBeGreaterThan(1000 * (16 + 32))
    expect(m.memoryBytes).toBeLessThanOrEqual(Math.ceil(m.approximateBytes * 1.35))
    expect(m.memoryBytes).toBeGreaterThan(Math.floor(m.approximateBytes * 1.34))
    m.unref()
  })
})
