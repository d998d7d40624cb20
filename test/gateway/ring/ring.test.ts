import { describe, expect, it } from 'vitest'
import { errorCode } from '../helpers/error-code.js'
import { assertPartitionCount, keyHash, partitionOf, partitionOfHash, partitionStart } from '../../../gateway/src/ring/partition.js'
import { Ring, type RingMember } from '../../../gateway/src/ring/ring.js'
import { ownershipMoves } from '../../../gateway/src/ring/ring-diff.js'
import { seededRandom } from '../../support/random.mjs'

const node = (i: number): string => `node-${String(i).padStart(2, '0')}`
const equalMembers = (n: number): RingMember[] => Array.from({ length: n }, (_, i) => ({ id: node(i), weight: 1 }))

const grown = new Map<number, Ring[]>()

/** The ring of n equal nodes built the way a growing cluster builds it: one node, then one claim step per join (memoized per Q). */
function grownRing (n: number, q: number): Ring {
  let rings = grown.get(q)
  if (rings === undefined) {
    rings = [Ring.create(equalMembers(1), { partitionCount: q })]
    grown.set(q, rings)
  }
  while (rings.length < n) rings.push(rings[rings.length - 1]!.rebalance(equalMembers(rings.length + 1)))
  return rings[n - 1]!
}

function worstRatio (ring: Ring, n: number): number {
  const max = Math.max(...ring.shares().values())
  return max / (ring.partitionCount / n)
}

describe('partition', () => {
  it('maps a key to the top bits of its SHA-1, the same for string and bytes', () => {
    const h = keyHash('user:42')
    expect(h.length).toBe(20)
    expect(partitionOf('user:42', 64)).toBe(h[0]! >> 2)
    expect(partitionOf(Buffer.from('user:42'), 64)).toBe(partitionOf('user:42', 64))
    expect(partitionOf('user:42', 1)).toBe(0)
    expect(partitionOfHash(h, 4096)).toBe(h.readUInt16BE(0) >> 4)
    expect(partitionStart(1, 64)).toBe('04' + '0'.repeat(38))
  })

  it('spreads keys evenly over the partitions', () => {
    const q = 64
    const counts = new Array<number>(q).fill(0)
    for (let i = 0; i < 65_536; i++) counts[partitionOf(`key-${i}`, q)]!++
    // 1,024 expected per partition, standard deviation ~32: 20% is over six deviations.
    expect(Math.min(...counts)).toBeGreaterThan(1024 * 0.8)
    expect(Math.max(...counts)).toBeLessThan(1024 * 1.2)
  })

  it('rejects partition counts that are not powers of two in range', () => {
    for (const bad of [0, 3, 48, 1.5, -64, 32768, Number.NaN]) {
      expect(errorCode(() => assertPartitionCount(bad))).toBe('CLUSTER_INVALID_PARTITION_COUNT')
    }
    expect(errorCode(() => partitionStart(64, 64))).toBe('CLUSTER_INVALID_PARTITION')
  })
})

describe('Ring', () => {
  it('derives the same ring from the same membership, whatever its order', () => {
    const members = equalMembers(7)
    const rng = seededRandom(1)
    const shuffled = [...members].sort(() => rng() - 0.5)
    const a = Ring.create(members)
    const b = Ring.create(shuffled)
    expect(a.equals(b)).toBe(true)
    expect(a.digest()).toBe(b.digest())
    const grown = a.rebalance([...members, { id: 'node-99', weight: 1 }])
    const grownShuffled = b.rebalance([{ id: 'node-99', weight: 1 }, ...shuffled])
    expect(grown.digest()).toBe(grownShuffled.digest())
  })

  it('is balanced to the pigeonhole optimum for 3..64 equal nodes, within 15% when Q >= 7n', () => {
    for (const q of [64, 512]) {
      const over15: number[] = []
      for (let size = 3; size <= 64; size++) {
        const grown = grownRing(size, q)
        const scratch = Ring.create(equalMembers(size), { partitionCount: q })
        for (const ring of [scratch, grown]) {
          const shares = [...ring.shares().values()]
          // Everyone owns floor(Q/n) or ceil(Q/n): no assignment can have a smaller maximum.
          expect(Math.max(...shares)).toBe(Math.ceil(q / size))
          expect(Math.min(...shares)).toBe(Math.floor(q / size))
          expect(ring.nodes().length).toBe(Math.min(size, q))
        }
        const optimum = Math.ceil(q / size) / (q / size)
        if (optimum > 1.15) over15.push(size)
        else expect(worstRatio(grown, size)).toBeLessThanOrEqual(1.15)
      }
      if (q >= 7 * 64) expect(over15).toEqual([])
    }
  })

  it('on a join moves only the new node\'s share, and only to it', () => {
    for (const q of [64, 512]) {
      for (let n = 3; n <= 63; n++) {
        const before = grownRing(n, q)
        const joiner = 'node-zz'
        const after = before.rebalance([...equalMembers(n), { id: joiner, weight: 1 }])
        const moves = ownershipMoves(before, after)
        expect(moves.every(m => m.to === joiner)).toBe(true)
        expect(moves.length).toBe(after.partitionsOf(joiner).length)
        expect(moves.length).toBeGreaterThanOrEqual(Math.floor(q / (n + 1)))
        expect(moves.length).toBeLessThanOrEqual(Math.ceil(q / (n + 1)))
      }
    }
  })

  it('on a leave moves only the leaving node\'s partitions, and stays balanced', () => {
    for (const n of [4, 5, 9, 16]) {
      const before = Ring.create(equalMembers(n), { partitionCount: 256 })
      const leaver = node(2)
      const remaining = equalMembers(n).filter(m => m.id !== leaver)
      const after = before.rebalance(remaining)
      const moves = ownershipMoves(before, after)
      expect(moves.length).toBe(before.partitionsOf(leaver).length)
      expect(moves.every(m => m.from === leaver && m.to !== leaver)).toBe(true)
      expect(Math.max(...after.shares().values())).toBe(Math.ceil(256 / (n - 1)))
      expect(after.nodes()).not.toContain(leaver)
    }
  })

  it('is unchanged by a rebalance with the same membership', () => {
    for (const n of [1, 3, 10, 33]) {
      const ring = Ring.create(equalMembers(n), { partitionCount: 128 })
      expect(ring.rebalance(equalMembers(n)).equals(ring)).toBe(true)
      const grown = grownRing(n, 128)
      expect(grown.rebalance(equalMembers(n)).equals(grown)).toBe(true)
    }
  })

  it('gives a node of weight 2 about twice the partitions of weight 1', () => {
    const members = [{ id: 'a', weight: 1 }, { id: 'b', weight: 2 }, { id: 'c', weight: 1 }, { id: 'd', weight: 4 }]
    const ring = Ring.create(members, { partitionCount: 512 })
    const shares = ring.shares()
    // Exact shares are 64, 128, 64, 256; largest remainder rounding never strays by a whole partition.
    expect(shares.get('a')).toBe(64)
    expect(shares.get('b')).toBe(128)
    expect(shares.get('c')).toBe(64)
    expect(shares.get('d')).toBe(256)
    const uneven = Ring.create([{ id: 'a', weight: 1 }, { id: 'b', weight: 2 }, { id: 'c', weight: 2 }], { partitionCount: 64 })
    const s = uneven.shares()
    for (const [id, w] of [['a', 1], ['b', 2], ['c', 2]] as const) {
      expect(Math.abs(s.get(id)! - 64 * w / 5)).toBeLessThan(1)
    }
    // Doubling a weight in place moves partitions only to that node.
    const heavier = ring.rebalance(members.map(m => m.id === 'a' ? { id: 'a', weight: 2 } : m))
    const moves = ownershipMoves(ring, heavier)
    expect(moves.every(m => m.to === 'a')).toBe(true)
    expect(Math.abs(heavier.shares().get('a')! - 512 * 2 / 9)).toBeLessThan(1)
  })

  it('builds preference lists of n distinct nodes, in ring order, and fewer when the ring has fewer', () => {
    for (const n of [3, 4, 7, 12]) {
      const ring = grownRing(n, 64)
      for (let p = 0; p < 64; p++) {
        const list = ring.preferenceList(p, 3)
        expect(list.length).toBe(3)
        expect(new Set(list).size).toBe(3)
        expect(list[0]).toBe(ring.ownerOf(p))
        // Each listed node is the first owner past the previous one that is not yet listed.
        expect(ring.walk(p).slice(0, 3)).toEqual(list)
        expect(ring.walk(p).length).toBe(n)
      }
    }
    const two = Ring.create(equalMembers(2), { partitionCount: 64 })
    expect(two.preferenceList(5, 3).length).toBe(2)
    expect(errorCode(() => two.preferenceList(0, 0))).toBe('CLUSTER_INVALID_OPTION')
    expect(errorCode(() => two.preferenceList(64, 3))).toBe('CLUSTER_INVALID_PARTITION')
  })

  it('spreads replicas: the replica load of n=3 stays at what the share rounding allows as the cluster grows', () => {
    for (const q of [64, 512]) {
      let worstVsBest = 0
      for (let size = 4; size <= 32; size++) {
        const ring = grownRing(size, q)
        const load = new Map<string, number>()
        for (let p = 0; p < q; p++) for (const r of ring.preferenceList(p, 3)) load.set(r, (load.get(r) ?? 0) + 1)
        const max = Math.max(...load.values())
        // With every 3 consecutive partitions on distinct nodes a node's load is exactly 3 x its share.
        worstVsBest = Math.max(worstVsBest, max / (3 * Math.ceil(q / size)))
      }
      // Past 10% over 3 x the largest share would mean the claim clumps a node's partitions together.
      expect(worstVsBest).toBeLessThanOrEqual(1.1)
    }
  })

  it('routes around down nodes with fallbacks that hold hints for the primaries they replace', () => {
    const ring = Ring.create(equalMembers(6))
    for (let p = 0; p < 64; p++) {
      const walk = ring.walk(p)
      const [first, second, third, fourth, fifth] = walk
      const allUp = ring.sloppyTargets(p, 3, () => true)
      expect(allUp).toEqual([{ node: first }, { node: second }, { node: third }])
      const down = new Set([second])
      expect(ring.sloppyTargets(p, 3, id => !down.has(id))).toEqual([{ node: first }, { node: fourth, hintFor: second }, { node: third }])
      // A fallback takes the place of the primary it stands in for; if the first fallback is down too, the next one does.
      const down2 = new Set([first, fourth])
      expect(ring.sloppyTargets(p, 3, id => !down2.has(id))).toEqual([{ node: fifth, hintFor: first }, { node: second }, { node: third }])
      const onlyTwoUp = new Set([first, second])
      expect(ring.sloppyTargets(p, 3, id => onlyTwoUp.has(id)).map(t => t.node)).toEqual([first, second])
    }
  })

  it('round-trips through its JSON form and rejects malformed documents', () => {
    const ring = grownRing(5, 64)
    const json = JSON.parse(JSON.stringify(ring)) as ReturnType<Ring['toJSON']>
    const back = Ring.fromJSON(json)
    expect(back.equals(ring)).toBe(true)
    expect(back.digest()).toBe(ring.digest())
    expect(errorCode(() => Ring.fromJSON({ ...json, partitionCount: 63 }))).toBe('CLUSTER_INVALID_RING')
    expect(errorCode(() => Ring.fromJSON({ ...json, owners: json.owners.slice(1) }))).toBe('CLUSTER_INVALID_RING')
    expect(errorCode(() => Ring.fromJSON({ ...json, owners: [9, ...json.owners.slice(1)] }))).toBe('CLUSTER_INVALID_RING')
    expect(errorCode(() => Ring.fromJSON({ ...json, nodes: [json.nodes[0]!, ...json.nodes.slice(0, -1)] }))).toBe('CLUSTER_INVALID_RING')
    expect(errorCode(() => Ring.fromJSON(null as unknown as ReturnType<Ring['toJSON']>))).toBe('CLUSTER_INVALID_RING')
  })

  it('rejects bad members and options with a clear code', () => {
    expect(errorCode(() => Ring.create([]))).toBe('CLUSTER_INVALID_MEMBER')
    expect(errorCode(() => Ring.create([{ id: 'a', weight: 1 }, { id: 'a', weight: 1 }]))).toBe('CLUSTER_INVALID_MEMBER')
    expect(errorCode(() => Ring.create([{ id: '', weight: 1 }]))).toBe('CLUSTER_INVALID_MEMBER')
    expect(errorCode(() => Ring.create([{ id: 'a', weight: 0 }]))).toBe('CLUSTER_INVALID_MEMBER')
    expect(errorCode(() => Ring.create([{ id: 'a', weight: 1.5 }]))).toBe('CLUSTER_INVALID_MEMBER')
    expect(errorCode(() => Ring.create(equalMembers(3), { partitionCount: 100 }))).toBe('CLUSTER_INVALID_PARTITION_COUNT')
    expect(errorCode(() => Ring.create(equalMembers(3), { spacing: 0 }))).toBe('CLUSTER_INVALID_OPTION')
  })

  it('still assigns every partition when there are more nodes than partitions', () => {
    const ring = Ring.create(equalMembers(20), { partitionCount: 16 })
    expect(ring.nodes().length).toBe(16)
    const grown = ring.rebalance(equalMembers(21))
    expect(ownershipMoves(ring, grown)).toEqual([])
  })
})
