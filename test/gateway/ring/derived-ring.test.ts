import { describe, expect, test } from 'vitest'
import { partitionOf } from '../../../gateway/src/ring/partition.js'
import type { Liveness } from '../../../gateway/src/membership/liveness.js'
import { Ring, type RingMember } from '../../../gateway/src/ring/ring.js'
import { DEFAULT_CONFIG } from '../../../gateway/src/node/config.js'
import { SloppyPlacement } from '../../../gateway/src/ring/sloppy-placement.js'
import type { Membership } from '../../../gateway/src/membership/membership.js'

// Ring properties, as the nodes derive the ring (Ring.create over the members at the default
// partition count). Preference lists never repeat a physical node;
// no node owns more than 15% above the mean share for 3..64 equal nodes; adding a node moves only
// the partitions it takes, about 1/(m+1) of the keys, measured on hashed keys. `npm run bench:ring`
// prints the figures.

const Q = DEFAULT_CONFIG.partitions
const KEYS = Array.from({ length: 50_000 }, (_, i) => `user:${i}:profile`)
/** The partition of every key (Q is the same for every ring here). */
const KEY_PARTITIONS = KEYS.map((k) => partitionOf(k, Q))

/** `size` members node01.., as a cluster lists them. */
function members (size: number, weights: (i: number) => number = () => 1): RingMember[] {
  return Array.from({ length: size }, (_, i) => ({ id: `node${String(i + 1).padStart(2, '0')}`, weight: weights(i) }))
}

/** The ring a node derives from its members: Ring.create over them, whatever their order. */
function derivedRing (size: number, weights?: (i: number) => number): Ring {
  return Ring.create(members(size, weights), { partitionCount: Q })
}

/** What a node routes by with every node up: the sloppy placement over `ring`. */
function placement (ring: Ring, n: number): SloppyPlacement {
  const membership = { ring: () => ring, pendingRing: () => undefined } as unknown as Membership
  const allUp: Liveness = { isUp: () => true, state: () => 'up', lastSeen: () => undefined }
  return new SloppyPlacement(membership, allUp, n)
}

describe(`the ring the nodes derive (Q = ${Q})`, () => {
  test('every preference list holds n distinct physical nodes, for every partition, 3..64 nodes and n = 1..5', () => {
    const violations: string[] = []
    let lists = 0
    for (let size = 3; size <= 64; size++) {
      const ring = derivedRing(size)
      for (const n of [1, 2, 3, 5]) {
        for (let p = 0; p < Q; p++) {
          const list = ring.preferenceList(p, n)
          lists++
          if (list.length !== Math.min(n, size) || new Set(list).size !== list.length) violations.push(`partition ${p}, ${size} nodes, n=${n}: ${list.join(',')}`)
        }
        const routing = placement(ring, n)
        for (const key of KEYS.slice(0, 100)) {
          const nodes = routing.place(key).targets.map((t) => t.node)
          if (new Set(nodes).size !== Math.min(n, size)) violations.push(`key ${key}, ${size} nodes, n=${n}: ${nodes.join(',')}`)
        }
      }
    }
    expect(violations).toEqual([])
    expect(lists).toBe(62 * 4 * Q)
  })

  test('two nodes started with the same members (in any order) derive the same ring', () => {
    const a = derivedRing(7)
    const listed = members(7)
    const b = Ring.create([listed[4]!, ...[...listed].reverse().filter((m) => m.id !== listed[4]!.id)], { partitionCount: Q })
    expect(b.digest()).toBe(a.digest())
    expect(derivedRing(7, (i) => (i === 3 ? 2 : 1)).digest()).not.toBe(a.digest())
  })

  test('no node owns more than 15% above the mean share for 3..64 equal nodes; a double-weight node owns about twice', () => {
    for (let size = 3; size <= 64; size++) {
      const shares = [...derivedRing(size).shares().values()]
      expect(shares.length).toBe(size)
      expect(Math.max(...shares) / (Q / size), `${size} nodes`).toBeLessThanOrEqual(1.15)
    }
    const weighted = derivedRing(5, (i) => (i === 0 ? 2 : 1)).shares()
    expect(weighted.get('node01')! / weighted.get('node02')!).toBeCloseTo(2, 1)
  })

  test('adding a node moves only the partitions it takes, about 1/(m+1) of the keys', () => {
    for (const size of [3, 4, 5, 8, 16, 32]) {
      const before = derivedRing(size)
      const grown = [...members(size), { id: 'joiner', weight: 1 }]
      const after = before.rebalance(grown)
      const ownerMoved = Array.from({ length: Q }, (_, p) => before.ownerOf(p) !== after.ownerOf(p))
      expect(ownerMoved.every((m, p) => !m || after.ownerOf(p) === 'joiner'), 'a partition only ever moves to the new node').toBe(true)
      const moved = KEY_PARTITIONS.filter((p) => ownerMoved[p]).length
      const fraction = moved / KEYS.length
      const ideal = 1 / (size + 1)
      // Key hashing spreads keys over partitions with sampling noise, and partitions move whole.
      expect(Math.abs(fraction - ideal), `${size} -> ${size + 1} nodes`).toBeLessThan(0.25 * ideal)
    }
  })
})
