import { describe, expect, test } from 'vitest'
import { Ring, type RingMember } from '../../../gateway/src/ring/ring.js'
import { claim } from '../../../gateway/src/ring/ring-claimant.js'
import {
  assertPlausibleEpoch, MAX_EPOCH_ADVANCE, MAX_RING_EPOCH, compareRingStates, gainingNodes, mergeRingStates, replicates, ringPlan, ringState, ringStateFromJSON, ringStateToJSON,
  transfersTo, waitingFor, withDone, type RingState
} from '../../../gateway/src/ring/ring-state.js'
import { seededRandom } from '../../support/random.mjs'

// The agreed ring state (ring/ring-state.ts) and the claim step (ring-claimant.ts): merge is
// a join, so gossip converges whatever the order; a claimant plans a join or leave as a pending
// ring, promotes it only when every gaining node reported done, and two claimants agree.

const Q = 64
const N = 3
const members = (...ids: string[]): RingMember[] => ids.map((id) => ({ id, weight: 1 }))
const bootstrap = (...ids: string[]): RingState => ringState(0, ringPlan(members(...ids), Ring.create(members(...ids), { partitionCount: Q })))

describe('claim', () => {
  test('a join is planned as a pending ring at epoch + 1, promoted only once every gaining node is done', () => {
    const s0 = bootstrap('a', 'b', 'c', 'd')
    expect(claim(s0, members('a', 'b', 'c', 'd'), N)).toBeUndefined() // nothing changed
    const s1 = claim(s0, members('a', 'b', 'c', 'd', 'e'), N)!
    expect(s1.epoch).toBe(1)
    expect(s1.current).toBe(s0.current) // reads and writes still go to the old ring
    expect(s1.pending!.plan.members.map((m) => m.id)).toEqual(['a', 'b', 'c', 'd', 'e'])
    const shares = s1.pending!.plan.ring.shares()
    expect(Math.abs(shares.get('e')! - Q / 5)).toBeLessThanOrEqual(1)
    const gainers = gainingNodes(s1, N)
    expect(gainers.has('e')).toBe(true)
    expect(transfersTo(s1, N, 'e').length).toBeGreaterThan(0)
    for (const t of transfersTo(s1, N, 'e')) expect(t.sources).toHaveLength(N) // the old replicas to stream from

    let s = s1
    for (const node of [...gainers].sort()) {
      expect(claim(s, members('a', 'b', 'c', 'd', 'e'), N)).toBeUndefined() // still waiting
      expect(waitingFor(s, N)).toContain(node)
      s = withDone(s, node)
    }
    const promoted = claim(s, members('a', 'b', 'c', 'd', 'e'), N)!
    expect(promoted.epoch).toBe(2)
    expect(promoted.pending).toBeUndefined()
    expect(promoted.current.ring.equals(s1.pending!.plan.ring)).toBe(true)
  })

  test('a leave gives the leaver\'s partitions to the others only; a change during a move replans from the pending ring', () => {
    const s0 = bootstrap('a', 'b', 'c', 'd', 'e')
    const s1 = claim(s0, members('a', 'b', 'c', 'e'), N)!
    const pending = s1.pending!.plan.ring
    expect(pending.nodes()).toEqual(['a', 'b', 'c', 'e'])
    for (let p = 0; p < Q; p++) {
      if (s0.current.ring.ownerOf(p) !== 'd') expect(pending.ownerOf(p)).toBe(s0.current.ring.ownerOf(p))
    }
    expect(gainingNodes(s1, N).has('d')).toBe(false)
    // d leaves while f joins: one new plan at epoch 2, starting over (nobody done).
    const s2 = claim(withDone(s1, 'a'), members('a', 'b', 'c', 'e', 'f'), N)!
    expect(s2.epoch).toBe(2)
    expect(s2.pending!.done.size).toBe(0)
    expect(s2.pending!.plan.ring.nodes()).toEqual(['a', 'b', 'c', 'e', 'f'])
    // A join cancelled before it completed lands back on the current ring: no move at all.
    const back = claim(claim(s0, members('a', 'b', 'c', 'd', 'e', 'f'), N)!, members('a', 'b', 'c', 'd', 'e'), N)!
    expect(back.pending).toBeUndefined()
    expect(back.current.ring.equals(s0.current.ring)).toBe(true)
  })

  test('two claimants acting on the same state agree, and replicates() covers both rings during a move', () => {
    const s0 = bootstrap('n1', 'n2', 'n3')
    const x = claim(s0, members('n1', 'n2', 'n3', 'n4'), N)!
    const y = claim(s0, members('n4', 'n3', 'n2', 'n1'), N)!
    expect(x.digest).toBe(y.digest)
    expect(compareRingStates(x, y)).toBe(0)
    for (let p = 0; p < Q; p++) {
      const both = new Set([...x.current.ring.preferenceList(p, N), ...x.pending!.plan.ring.preferenceList(p, N)])
      for (const id of ['n1', 'n2', 'n3', 'n4']) expect(replicates(x, N, id, p)).toBe(both.has(id))
    }
  })
})

describe('merge', () => {
  test('is a join: whatever order and repetition gossip delivers states in, every node ends with the same one', () => {
    const s0 = bootstrap('a', 'b', 'c')
    const s1 = claim(s0, members('a', 'b', 'c', 'd'), N)!
    const rival = claim(s0, members('a', 'b', 'c', 'e'), N)! // another claimant at the same epoch
    const gainers = [...gainingNodes(s1, N)]
    const states = [s0, s1, rival, ...gainers.map((g) => withDone(s1, g))]
    const random = seededRandom(7)
    const results = new Set<string>()
    for (let run = 0; run < 50; run++) {
      const order = [...states, ...states].sort(() => random() - 0.5)
      const merged = order.reduce((acc, s) => mergeRingStates(acc, s))
      results.add(`${merged.epoch} ${merged.digest} ${[...(merged.pending?.done ?? [])].sort().join()}`)
    }
    expect(results.size).toBe(1)
    const [winner] = [...results]
    const expected = compareRingStates(s1, rival) > 0 ? s1 : rival
    expect(winner!.startsWith(`1 ${expected.digest}`)).toBe(true)
    if (expected === s1) expect(winner!.endsWith(gainers.sort().join())).toBe(true)
    expect(mergeRingStates(s1, s0)).toBe(s1) // an older state changes nothing
  })

  test('round-trips through JSON and rejects malformed states', () => {
    const s1 = withDone(claim(bootstrap('a', 'b', 'c'), members('a', 'b', 'c', 'd'), N)!, 'd')
    const back = ringStateFromJSON(JSON.parse(JSON.stringify(ringStateToJSON(s1))))
    expect(back.digest).toBe(s1.digest)
    expect([...back.pending!.done]).toEqual(['d'])
    const json = ringStateToJSON(s1)
    const bad: unknown[] = [
      null,
      { ...json, epoch: -1 },
      { ...json, epoch: MAX_RING_EPOCH + 1 },
      { ...json, epoch: Number.MAX_SAFE_INTEGER },
      { ...json, current: { ...json.current, members: [{ id: 'a', weight: 0 }] } },
      { ...json, current: { members: json.current.members.filter((m) => m.id !== 'a'), ring: json.current.ring } },
      { ...json, pending: { ...json.pending!, done: 'd' } }
    ]
    for (const b of bad) expect(() => ringStateFromJSON(b as never), JSON.stringify(b)?.slice(0, 60)).toThrow(/ring state rejected/)
  })

  test('a gossiped epoch is plausible only within MAX_EPOCH_ADVANCE of the one held; a node without a ring takes any legal one', () => {
    const s0 = bootstrap('a', 'b', 'c')
    const at = (epoch: number): RingState => ringState(epoch, s0.current)
    expect(() => assertPlausibleEpoch(s0, at(MAX_EPOCH_ADVANCE))).not.toThrow()
    expect(() => assertPlausibleEpoch(at(10), at(10 + MAX_EPOCH_ADVANCE))).not.toThrow()
    expect(() => assertPlausibleEpoch(at(10), at(11 + MAX_EPOCH_ADVANCE))).toThrow(/more than 4096 ahead/)
    expect(() => assertPlausibleEpoch(s0, at(MAX_RING_EPOCH))).toThrow(/ring state rejected/)
    expect(() => assertPlausibleEpoch(undefined, at(MAX_RING_EPOCH))).not.toThrow()
    // Even at the ceiling the claimant can still count on: the epoch stays a safe integer for 2^52 more changes.
    expect(Number.isSafeInteger(MAX_RING_EPOCH + 2 ** 52)).toBe(true)
  })
})
