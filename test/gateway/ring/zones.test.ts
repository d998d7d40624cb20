import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { errorCode } from '../helpers/error-code.js'
import { DEFAULT_ZONE, Ring, type RingMember } from '../../../gateway/src/ring/ring.js'
import { ownershipMoves } from '../../../gateway/src/ring/ring-diff.js'
import { ringPlan, ringState, ringStateFromJSON, ringStateToJSON } from '../../../gateway/src/ring/ring-state.js'
import { claim } from '../../../gateway/src/ring/ring-claimant.js'
import { MemberTable } from '../../../gateway/src/membership/member-table.js'

const zoned = (count: number, zones: number, weight = 1): RingMember[] =>
  Array.from({ length: count }, (_, i) => ({ id: `node-${String(i).padStart(3, '0')}`, weight, zone: `z${i % zones}` }))

/** The smallest round L with sum over zones of min(L, zone size) >= want (how deep a preference list must go). */
function level (sizes: readonly number[], want: number): number {
  let l = 1
  while (sizes.reduce((sum, s) => sum + Math.min(l, s), 0) < want) l++
  return l
}

/** Asserts every preference list of the ring holds min(n, N) distinct nodes spread over the zones as evenly as their sizes allow. */
function expectZoneSpread (ring: Ring, n: number): void {
  const zoneSizes = ring.zones()
  const want = Math.min(n, ring.nodes().length)
  const l = level([...zoneSizes.values()], want)
  // Plain checks in the loop (expect per partition is slow), one expect on the first failure.
  const problem = (p: number, list: string[]): string | undefined => {
    if (list.length !== want || new Set(list).size !== want) return 'not n distinct nodes'
    if (list[0] !== ring.ownerOf(p)) return 'does not start at the owner'
    const perZone = new Map<string, number>()
    for (const node of list) perZone.set(ring.zoneOf(node)!, (perZone.get(ring.zoneOf(node)!) ?? 0) + 1)
    if (perZone.size !== Math.min(want, zoneSizes.size)) return `${perZone.size} zones`
    for (const [zone, size] of zoneSizes) {
      const count = perZone.get(zone) ?? 0
      if (count > l || (want >= zoneSizes.size && count < Math.min(size, l - 1))) return `zone ${zone} holds ${count}`
    }
    return undefined
  }
  for (let p = 0; p < ring.partitionCount; p++) {
    const list = ring.preferenceList(p, n)
    const why = problem(p, list)
    if (why !== undefined) expect({ p, n, list, zones: list.map((node) => ring.zoneOf(node)), why }).toBeUndefined()
  }
}

/** Asserts zone shares within one partition of proportional to zone weight, node shares within two of proportional to node weight. */
function expectBalanced (ring: Ring, members: readonly RingMember[]): void {
  const q = ring.partitionCount
  const total = members.reduce((sum, m) => sum + m.weight, 0)
  const shares = ring.shares()
  const zoneWeight = new Map<string, number>()
  const zoneShare = new Map<string, number>()
  for (const m of members) {
    const zone = m.zone ?? DEFAULT_ZONE
    zoneWeight.set(zone, (zoneWeight.get(zone) ?? 0) + m.weight)
    zoneShare.set(zone, (zoneShare.get(zone) ?? 0) + (shares.get(m.id) ?? 0))
    expect(Math.abs((shares.get(m.id) ?? 0) - q * m.weight / total)).toBeLessThan(2)
  }
  for (const [zone, weight] of zoneWeight) expect(Math.abs(zoneShare.get(zone)! - q * weight / total)).toBeLessThan(1)
}

const op = fc.oneof(
  fc.record({ kind: fc.constant('join' as const), zone: fc.integer({ min: 0, max: 4 }), weight: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('leave' as const), pick: fc.nat() })
)

describe('zone-aware placement', () => {
  it('keeps every preference list in distinct zones, and shares balanced, through random joins and leaves', () => {
    fc.assert(fc.property(
      fc.constantFrom(64, 256, 512), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 8 }), fc.array(op, { minLength: 1, maxLength: 12 }),
      (q, n, founders, ops) => {
        let members: RingMember[] = Array.from({ length: founders }, (_, i) => ({ id: `f${i}`, weight: 1 + (i % 3), zone: `z${i % 3}` }))
        let ring = Ring.create(members, { partitionCount: q })
        expectZoneSpread(ring, n)
        expectBalanced(ring, members)
        let joined = 0
        for (const o of ops) {
          if (o.kind === 'join') members = [...members, { id: `j${joined++}`, weight: o.weight, zone: `z${o.zone}` }]
          else if (members.length > 1) members = members.filter((_, i) => i !== o.pick % members.length)
          ring = ring.rebalance(members)
          expectZoneSpread(ring, n)
          expectBalanced(ring, members)
        }
      }), { numRuns: 60, seed: 20 })
  })

  it('holds equal nodes within 15% of the mean share and equal zones within 5% when Q >= 14 x nodes', () => {
    fc.assert(fc.property(fc.integer({ min: 3, max: 36 }), fc.integer({ min: 2, max: 5 }), (count, zones) => {
      const members = zoned(count, zones)
      for (const ring of [Ring.create(members, { partitionCount: 512 }), Ring.create(zoned(count - 1, zones), { partitionCount: 512 }).rebalance(members)]) {
        const shares = [...ring.shares().values()]
        expect(Math.max(...shares) / (512 / count)).toBeLessThanOrEqual(1.15)
        const perZone = new Map<string, number>()
        for (const [node, share] of ring.shares()) perZone.set(ring.zoneOf(node)!, (perZone.get(ring.zoneOf(node)!) ?? 0) + share)
        for (const [zone, share] of perZone) {
          const size = members.filter((m) => m.zone === zone).length
          expect(Math.abs(share / (512 * size / count) - 1)).toBeLessThanOrEqual(0.05)
        }
      }
    }), { numRuns: 40, seed: 21 })
  })

  it('moves only the joiner\'s share on a join and the leaver\'s on a leave', () => {
    for (const count of [6, 30, 60]) {
      const members = zoned(count, 3)
      const ring = Ring.create(members, { partitionCount: 1024 })
      const joined = ring.rebalance([...members, { id: 'joiner', weight: 1, zone: 'z1' }])
      const moves = ownershipMoves(ring, joined)
      expect(moves.every((m) => m.to === 'joiner')).toBe(true)
      expect(moves.length / 1024).toBeLessThanOrEqual(1.5 / (count + 1))
      const left = joined.rebalance(members)
      expect(ownershipMoves(joined, left).every((m) => m.from === 'joiner')).toBe(true)
    }
  })

  it('spreads 6 nodes of 3 zones so each key has one replica per zone, and a zone-less ring walks as before', () => {
    const ring = Ring.create(zoned(6, 3), { partitionCount: 64 })
    for (let p = 0; p < 64; p++) expect(new Set(ring.preferenceList(p, 3).map((node) => ring.zoneOf(node))).size).toBe(3)
    // Dealt zone by zone, neighbouring partitions sit in different zones (64 is no multiple of 3: one zone has
    // an extra partition, so a pair or two must touch); and a claim of the same members changes nothing.
    const touching = Array.from({ length: 64 }, (_, p) => p).filter((p) => ring.zoneOf(ring.ownerOf(p)) === ring.zoneOf(ring.ownerOf((p + 1) % 64)))
    expect(touching.length).toBeLessThanOrEqual(2)
    expect(ring.rebalance(zoned(6, 3)).equals(ring)).toBe(true)
    const plain = Ring.create(zoned(6, 1).map(({ id, weight }) => ({ id, weight })), { partitionCount: 64 })
    expect(plain.toJSON().zones).toBeUndefined()
    for (let p = 0; p < 64; p++) expect(plain.preferenceList(p, 3)).toEqual(plain.walk(p).slice(0, 3))
  })

  it('prefers a fallback of another zone for a down primary', () => {
    const ring = Ring.create(zoned(9, 3), { partitionCount: 64 })
    for (let p = 0; p < 64; p++) {
      const [first] = ring.preferenceList(p, 2)
      const targets = ring.sloppyTargets(p, 2, (node) => node !== first)
      const stand = targets.find((t) => t.hintFor === first)!
      expect(ring.zoneOf(stand.node)).not.toBe(ring.zoneOf(first!))
      expect(targets.map((t) => t.node)).not.toContain(first)
    }
  })

  it('carries zones through JSON, ring states and the claimant', () => {
    const members = zoned(5, 2)
    const ring = Ring.create(members, { partitionCount: 64 })
    const back = Ring.fromJSON(JSON.parse(JSON.stringify(ring.toJSON())))
    expect(back.equals(ring)).toBe(true)
    expect(back.zoneOf('node-001')).toBe('z1')
    const state = ringState(3, ringPlan(members, ring))
    expect(ringStateFromJSON(JSON.parse(JSON.stringify(ringStateToJSON(state)))).digest).toBe(state.digest)
    // The same members in other zones are another membership: the claimant plans a move.
    const moved = members.map((m) => ({ ...m, zone: 'z0' }))
    expect(claim(state, moved, 3)?.pending?.plan.members.every((m) => m.zone === 'z0')).toBe(true)
    expect(claim(state, members, 3)).toBeUndefined()
    expect(errorCode(() => Ring.create([{ id: 'a', weight: 1, zone: 'bad zone' }]))).toBe('CLUSTER_INVALID_MEMBER')
    expect(errorCode(() => Ring.fromJSON({ ...ring.toJSON(), zones: ['z0'] }))).toBe('CLUSTER_INVALID_RING')
  })
})

describe('zones in gossip', () => {
  it('spreads a member\'s zone with its entry and refuses an entry with a bad zone', () => {
    const a = new MemberTable({ id: 'a', address: '127.0.0.1:7001', generation: 1, zone: 'east' })
    const b = new MemberTable({ id: 'b', address: '127.0.0.1:7002', generation: 1 })
    const delta = a.deltaFor(b.digest())
    b.merge(delta.entries)
    expect(b.get('a')?.zone).toBe('east')
    expect(b.get('b')?.zone).toBeUndefined()
    expect(errorCode(() => b.merge([{ ...a.self, id: 'c', zone: '../x' }]))).toBe('CLUSTER_INVALID_MEMBER')
    expect(b.get('c')).toBeUndefined()
  })
})
