import { describe, it, expect } from 'vitest'
import { encodeVarint64 } from '../../../engine/src/coding.js'
import { compareInternalKeys, lookupKey } from '../../../engine/src/keys.js'
import { Block } from '../../../engine/src/sstable/block.js'
import { BlockBuilder } from '../../../engine/src/sstable/block-builder.js'
import { IndexBlock } from '../../../engine/src/sstable/index-block.js'
import { ik, sortEntries } from './sstable-helpers.js'
import { seededRandom } from '../../support/random.mjs'

/** An index block over the given sorted keys, each naming a 10-byte data block laid out back to back. */
function indexOf (keys: Buffer[]): IndexBlock {
  const b = new BlockBuilder(16)
  keys.forEach((k, i) => {
    const h = Buffer.alloc(20)
    const end = encodeVarint64(h, encodeVarint64(h, 0, i * 15), 10)
    b.add(k, h.subarray(0, end))
  })
  return IndexBlock.decode(new Block(Buffer.from(b.finish()), 'x.sst', 0), keys.length * 15)
}

/** Sorted, distinct internal keys over a small alphabet: user keys that are prefixes of others, shared prefixes. */
function keysFrom (seed: number, n: number, prefix: string): Buffer[] {
  const r = seededRandom(seed)
  const alphabet = [0x00, 0x01, 0x30, 0x61, 0xff]
  const seen = new Set<string>()
  const keys: Buffer[] = []
  while (keys.length < n) {
    const len = Math.floor(r() * 7)
    const u = Buffer.concat([Buffer.from(prefix), Buffer.from(Array.from({ length: len }, () => alphabet[Math.floor(r() * alphabet.length)]))])
    const k = ik(u, Math.floor(r() * 4) * 1000, 1)
    if (seen.has(k.toString('hex'))) continue
    seen.add(k.toString('hex'))
    keys.push(k)
  }
  return sortEntries(keys.map((key) => ({ key, value: Buffer.alloc(0) }))).map((e) => e.key)
}

describe('index block seek', () => {
  for (const prefix of ['', 'user:0000', '\x00\x00']) {
    it(`agrees with a brute-force search (keys sharing ${JSON.stringify(prefix)})`, () => {
      for (let seed = 1; seed <= 5; seed++) {
        const keys = keysFrom(seed, 1 + seed * 40, prefix)
        const index = indexOf(keys)
        const r = seededRandom(seed * 7)
        const targets: Buffer[] = []
        for (const k of keys) {
          const u = k.subarray(0, k.length - 8)
          targets.push(k, lookupKey(u, 0), lookupKey(u, 2 ** 40), lookupKey(u, 1500))
          targets.push(lookupKey(Buffer.concat([u, Buffer.from([Math.floor(r() * 256)])]), 5))
          if (u.length > 0) targets.push(lookupKey(u.subarray(0, u.length - 1), 5))
        }
        targets.push(lookupKey(Buffer.alloc(0), 1), lookupKey(Buffer.from([0xff, 0xff, 0xff]), 1), lookupKey(Buffer.from('user:'), 1), lookupKey(Buffer.from('user:1'), 1))
        for (const t of targets) {
          const want = keys.findIndex((k) => compareInternalKeys(k, t) >= 0)
          expect(index.seek(t), t.toString('hex')).toBe(want < 0 ? keys.length : want)
          // A target in a longer buffer, its length given.
          const padded = Buffer.concat([t, Buffer.from([0x7f, 0x7f])])
          expect(index.seek(padded, t.length)).toBe(want < 0 ? keys.length : want)
        }
      }
    })
  }
})
