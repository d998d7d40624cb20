import { describe, expect, it } from 'vitest'
import { bucketOf, bucketRange, partitionRange, storageKey, userKeyOf } from '../../../gateway/src/replica/storage-keys.js'
import { partitionOf } from '../../../gateway/src/ring/partition.js'

function inRange (k: string, r: { gte: string, lt?: string }): boolean {
  return k >= r.gte && (r.lt === undefined || k < r.lt)
}

describe('storage keys', () => {
  const keys = Array.from({ length: 2000 }, (_, i) => `user/${i}/${'é'.repeat(i % 3)}`)

  it('round-trips a user key', () => {
    for (const k of keys) expect(userKeyOf(storageKey(k))).toBe(k)
    expect(() => userKeyOf('abc')).toThrow(/prefix/)
  })

  it("puts each key in its ring partition's range and no other, for several Q", () => {
    for (const q of [1, 64, 512, 16384]) {
      for (const k of keys.slice(0, 300)) {
        const p = partitionOf(k, q)
        const sk = storageKey(k)
        expect(inRange(sk, partitionRange(p, q))).toBe(true)
        if (q > 1) expect(inRange(sk, partitionRange((p + 1) % q, q))).toBe(false)
      }
    }
  })

  it('puts each key in its bucket range, inside its partition range', () => {
    const q = 512
    const buckets = 1024
    for (const k of keys) {
      const { partition, bucket } = bucketOf(k, q, buckets)
      expect(partition).toBe(partitionOf(k, q))
      expect(inRange(storageKey(k), bucketRange(partition, q, bucket, buckets))).toBe(true)
      if (bucket > 0) expect(inRange(storageKey(k), bucketRange(partition, q, bucket - 1, buckets))).toBe(false)
    }
    expect(partitionRange(q - 1, q).lt).toBeUndefined()
    expect(() => bucketRange(0, q, 0, 3)).toThrow(/power of two/)
  })
})
