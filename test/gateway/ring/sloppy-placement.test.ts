import { pino } from 'pino'
import { expect, test } from 'vitest'
import type { Liveness } from '../../../gateway/src/membership/liveness.js'
import { Ring, type RingMember } from '../../../gateway/src/ring/ring.js'
import { SloppyPlacement } from '../../../gateway/src/ring/sloppy-placement.js'
import { Membership } from '../../../gateway/src/membership/membership.js'
import { claim } from '../../../gateway/src/ring/ring-claimant.js'
import { ringPlan, ringState } from '../../../gateway/src/ring/ring-state.js'
import { seededRandom } from '../../support/random.mjs'

// Sloppy placement: the targets are Ring.sloppyTargets' (primaries up serve themselves, each one
// down is stood in for by the next node up past the n primaries, as a hint), the fallbacks are the
// other nodes up in ring order, and during a move the pending ring's new replicas are handoff targets.

const ids = ['a', 'b', 'c', 'd', 'e', 'f']
const members = ids.map((id) => ({ id, weight: 1 }))
const ring = Ring.create(members, { partitionCount: 64 })

function placementWith (down: ReadonlySet<string>, pendingMembers?: typeof members, on: { members: RingMember[], ring: Ring } = { members, ring }): SloppyPlacement {
  let state = ringState(0, ringPlan(on.members, on.ring))
  if (pendingMembers !== undefined) state = claim(state, pendingMembers, 3)!
  const membership = new Membership({
    self: { id: 'a', address: '127.0.0.1:1', weight: 1, generation: 1, status: 'up' },
    seeds: [],
    ringState: state,
    replicas: 3,
    phi: {},
    unheardGraceMs: 1_000,
    logger: pino({ level: 'silent' })
  })
  const liveness: Liveness = { isUp: (id) => !down.has(id), state: () => 'up', lastSeen: () => undefined }
  return new SloppyPlacement(membership, liveness, 3)
}

test('targets are Ring.sloppyTargets\' for any set of nodes down; fallbacks are the rest of the healthy walk', () => {
  const random = seededRandom(11)
  for (let round = 0; round < 200; round++) {
    const down = new Set(ids.filter(() => random() < 0.35))
    const placement = placementWith(down)
    const key = `key-${round}`
    const p = ring.partitionOf(key)
    const { partition, targets, fallbacks, handoff } = placement.place(key)
    expect(partition).toBe(p)
    expect(targets).toEqual(ring.sloppyTargets(p, 3, (id) => !down.has(id))
      .map((t) => t.hintFor === undefined ? { node: t.node, primary: true } : { node: t.node, primary: false, hintFor: t.hintFor }))
    expect(fallbacks).toEqual(ring.walk(p).slice(3).filter((id) => !down.has(id) && !targets.some((t) => t.node === id)))
    expect(handoff).toBeUndefined()
  }
})

test('during a move, writes also go to the pending ring\'s replicas that are not targets', () => {
  const placement = placementWith(new Set(), [...members, { id: 'g', weight: 1 }])
  const gains = Array.from({ length: 400 }, (_, i) => placement.place(`k${i}`)).filter((x) => x.handoff?.includes('g') === true)
  expect(gains.length).toBeGreaterThan(0)
  for (const x of gains) expect(x.targets.map((t) => t.node)).not.toContain('g')
})

test('with zones, targets are still Ring.sloppyTargets\': primaries in distinct zones, a down one stood in for from another zone', () => {
  const zoned: RingMember[] = ids.map((id, i) => ({ id, weight: 1, zone: `z${i % 3}` }))
  const zonedRing = Ring.create(zoned, { partitionCount: 64 })
  const random = seededRandom(12)
  for (let round = 0; round < 200; round++) {
    const down = new Set(ids.filter(() => random() < 0.3))
    const placement = placementWith(down, undefined, { members: zoned, ring: zonedRing })
    const key = `zoned-${round}`
    const p = zonedRing.partitionOf(key)
    const { targets, fallbacks } = placement.place(key)
    expect(targets).toEqual(zonedRing.sloppyTargets(p, 3, (id) => !down.has(id))
      .map((t) => t.hintFor === undefined ? { node: t.node, primary: true } : { node: t.node, primary: false, hintFor: t.hintFor }))
    const primaries = zonedRing.preferenceList(p, 3)
    expect(new Set(primaries.map((id) => zonedRing.zoneOf(id))).size).toBe(3)
    const free = zonedRing.walk(p).filter((id) => !primaries.includes(id) && !down.has(id))
    for (const t of targets) {
      if (t.hintFor === undefined) continue
      // Another zone than the down primary's whenever a node up there is still free.
      if (free.some((id) => zonedRing.zoneOf(id) !== zonedRing.zoneOf(t.hintFor!))) expect(zonedRing.zoneOf(t.node)).not.toBe(zonedRing.zoneOf(t.hintFor))
      free.splice(free.indexOf(t.node), 1)
    }
    expect(fallbacks).toEqual(zonedRing.walk(p).filter((id) => !primaries.includes(id) && !down.has(id) && !targets.some((t) => t.node === id)))
  }
})
