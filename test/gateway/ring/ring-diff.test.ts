import { describe, expect, it } from 'vitest'
import { Ring, type RingMember } from '../../../gateway/src/ring/ring.js'
import { ownershipMoves, replicaChanges } from '../../../gateway/src/ring/ring-diff.js'

const members = (ids: string[]): RingMember[] => ids.map(id => ({ id, weight: 1 }))

describe('ring diff', () => {
  const before = Ring.create(members(['a', 'b', 'c', 'd']), { partitionCount: 64 })
  const after = before.rebalance(members(['a', 'b', 'c', 'd', 'e']))

  it('lists ownership moves on a join: each from its old owner to the joiner', () => {
    const moves = ownershipMoves(before, after)
    expect(moves.map(m => m.partition)).toEqual(after.partitionsOf('e'))
    for (const m of moves) {
      expect(m.to).toBe('e')
      expect(m.from).toBe(before.ownerOf(m.partition))
    }
    expect(ownershipMoves(before, before)).toEqual([])
  })

  it('lists replica changes for n=3: the joiner gains exactly the partitions whose new preference list has it', () => {
    const changes = replicaChanges(before, after, 3)
    const gainedByE = changes.filter(c => c.gained.includes('e')).map(c => c.partition)
    const expected = Array.from({ length: 64 }, (_, p) => p).filter(p => after.preferenceList(p, 3).includes('e'))
    expect(gainedByE).toEqual(expected)
    for (const c of changes) {
      // Every partition keeps 3 replicas: what one node gains another loses, and the sources are the old list.
      expect(c.gained.length).toBe(c.lost.length)
      expect(c.sources).toEqual(before.preferenceList(c.partition, 3))
      for (const node of c.lost) expect(c.sources).toContain(node)
    }
    // Nothing changes replica sets that is not near a moved partition: n=3 reaches at most 2 partitions back.
    const moved = new Set(ownershipMoves(before, after).map(m => m.partition))
    for (const c of changes) {
      const near = [0, 1, 2, 3, 4, 5].some(d => moved.has((c.partition + d) % 64))
      expect(near).toBe(true)
    }
    // e replicates about 3/5 of the partitions' data sets: 3 x its share.
    expect(gainedByE.length).toBe(3 * after.partitionsOf('e').length)
  })

  it('lists replica changes on a leave: the leaver loses every replica it had', () => {
    const left = after.rebalance(members(['a', 'b', 'c', 'd']))
    const changes = replicaChanges(after, left, 3)
    const lostByE = changes.filter(c => c.lost.includes('e')).map(c => c.partition)
    const hadE = Array.from({ length: 64 }, (_, p) => p).filter(p => after.preferenceList(p, 3).includes('e'))
    expect(lostByE).toEqual(hadE)
    for (const c of changes) expect(c.gained).not.toContain('e')
  })

  it('refuses to diff rings of different partition counts', () => {
    const other = Ring.create(members(['a', 'b']), { partitionCount: 128 })
    expect(() => ownershipMoves(before, other)).toThrow(expect.objectContaining({ code: 'CLUSTER_RING_MISMATCH' }))
    expect(() => replicaChanges(before, other, 3)).toThrow(expect.objectContaining({ code: 'CLUSTER_RING_MISMATCH' }))
  })
})
