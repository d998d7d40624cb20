import { pino } from 'pino'
import { describe, expect, test } from 'vitest'
import { Ring } from '../../../gateway/src/ring/ring.js'
import { Membership } from '../../../gateway/src/membership/membership.js'
import { parseAck, parseSyn } from '../../../gateway/src/membership/gossip-protocol.js'
import { ringPlan, ringState } from '../../../gateway/src/ring/ring-state.js'

// Membership on a synthetic clock: heartbeats gossiped between tables feed one detector per
// member; a silent member goes down, a restart (new generation) is up at once, a refused connection
// is down at once until the next heartbeat; the claimant is the lowest-id up member alive; the ring
// state travels with gossip. No sockets: tables exchange digests and deltas directly.

const logger = pino({ level: 'silent' })
const founders = ['a', 'b', 'c'].map((id) => ({ id, weight: 1 }))
const ring = ringState(0, ringPlan(founders, Ring.create(founders, { partitionCount: 16 })))

interface Sim { clock: { now: number }, refused: Map<string, number>, node: Membership }

function start (id: string, generation: number, clock = { now: 0 }, activityIntervalMs?: number): Sim {
  const refused = new Map<string, number>()
  const node = new Membership({
    self: { id, address: `127.0.0.1:70${id.charCodeAt(0)}`, weight: 1, generation, status: 'up' },
    seeds: founders.filter((f) => f.id !== id).map((f) => ({ id: f.id, address: `127.0.0.1:70${f.id.charCodeAt(0)}`, weight: 1, status: 'up' })),
    ringState: ring,
    replicas: 3,
    phi: {},
    unheardGraceMs: 5_000,
    refusedAt: (peer) => refused.get(peer),
    logger,
    ...(activityIntervalMs === undefined ? {} : { activityIntervalMs }),
    now: () => clock.now
  })
  return { clock, refused, node }
}

/** One SYN/ACK/ACK2 exchange between two tables, through the wire parsers. */
function exchange (from: Membership, to: Membership): void {
  const syn = parseSyn(JSON.parse(JSON.stringify({ from: from.selfId, digest: from.digest(), ring: from.ringSummary() ?? null })))
  const delta = to.deltaFor(syn.digest)
  const ack = parseAck(JSON.parse(JSON.stringify({ from: to.selfId, entries: delta.entries, requests: delta.requests, ring: null, wantRing: false })))
  from.merge(ack.entries)
  to.merge(from.entriesFor(ack.requests))
}

describe('failure detection over gossip', () => {
  test('a member whose heartbeat stops goes down within seconds; its restart is up at once', () => {
    const clock = { now: 0 }
    const [a, b, c] = [start('a', 1, clock), start('b', 1, clock), start('c', 1, clock)]
    expect(a.node.state('b')).toBe('unknown') // never heard yet: try it
    let downAt: number | undefined
    for (let t = 0; t <= 30_000; t += 1_000) {
      clock.now = t
      for (const s of [a, b, c]) s.node.tick()
      const alive = t < 15_000 ? [a, b, c] : [a, c]
      for (const s of alive) for (const peer of alive) if (s !== peer) exchange(s.node, peer.node)
      for (let dt = 0; dt < 1_000; dt += 100) {
        clock.now = t + dt
        if (t >= 15_000 && downAt === undefined && !a.node.isUp('b')) downAt = clock.now - 15_000
        if (t < 15_000 && t > 0) expect(a.node.isUp('b')).toBe(true)
      }
    }
    expect(downAt).toBeGreaterThan(1_000)
    expect(downAt).toBeLessThanOrEqual(8_000)
    expect(a.node.state('b')).toBe('down')
    expect(a.node.phi('b')).toBeGreaterThanOrEqual(8)
    expect(a.node.livenessChanges().map((x) => [x.id, x.up])).toEqual([['b', false]])
    // b restarts: a new generation, heard through c, is up at once.
    const b2 = start('b', 2, clock)
    b2.node.tick()
    exchange(b2.node, c.node)
    exchange(c.node, a.node)
    expect(a.node.entry('b')!.generation).toBe(2)
    expect(a.node.isUp('b')).toBe(true)
    expect(a.node.livenessChanges().map((x) => [x.id, x.up])).toEqual([['b', true]])
  })

  test('a refused connection takes a member down at once, until its heartbeat advances again', () => {
    const clock = { now: 0 }
    const a = start('a', 1, clock)
    const b = start('b', 1, clock)
    b.node.tick()
    exchange(b.node, a.node)
    expect(a.node.isUp('b')).toBe(true)
    a.refused.set('b', Date.now())
    expect(a.node.isUp('b')).toBe(false)
    clock.now += 10
    const until = Date.now() + 5
    while (Date.now() <= until) { /* let the wall clock pass the refusal */ }
    b.node.tick()
    exchange(b.node, a.node)
    expect(a.node.isUp('b')).toBe(true)
  })

  test('a member never heard from counts as up for the grace period, then as down', () => {
    const clock = { now: 0 }
    const a = start('a', 1, clock)
    expect(a.node.isUp('c')).toBe(true)
    clock.now = 5_001
    expect(a.node.isUp('c')).toBe(false)
    expect(a.node.state('c')).toBe('down')
  })
})

describe('a pause of the observer itself', () => {
  test('a node stopped for 30 s does not take its peers for down on waking; one that died meanwhile still goes down within seconds', () => {
    const clock = { now: 0 }
    const watchful = start('a', 1, clock, 1_000) // notices its own pauses
    const naive = start('a', 1, clock) // the same node without the check: the control
    const b = start('b', 1, clock)
    const c = start('c', 1, clock)
    const round = (observers: Sim[], peers: Sim[]): void => {
      for (const s of [...observers, ...peers]) s.node.tick()
      for (const o of observers) for (const p of peers) { exchange(p.node, o.node); exchange(o.node, p.node) }
      for (const p of peers) for (const q of peers) if (p !== q) exchange(p.node, q.node)
    }
    for (let t = 0; t <= 10_000; t += 1_000) { clock.now = t; round([watchful, naive], [b, c]) }
    // a is stopped for 30 s (no call runs in it); b and c go on gossiping, and c dies 10 s in.
    for (let t = 11_000; t <= 40_000; t += 1_000) { clock.now = t; round([], t < 20_000 ? [b, c] : [b]) }
    clock.now = 40_500 // a wakes: the first call it runs, before any gossip reaches it
    expect(watchful.node.isUp('b')).toBe(true)
    expect(watchful.node.phi('b')).toBeLessThan(1)
    expect(naive.node.isUp('b')).toBe(false) // what the check prevents
    // Gossip resumes: b stays up throughout; c, silent since 20 s, is taken for down within seconds.
    let cDownAfter: number | undefined
    for (let t = 41_000; t <= 60_000; t += 1_000) {
      clock.now = t
      round([watchful], [b])
      expect(watchful.node.isUp('b')).toBe(true)
      if (cDownAfter === undefined && !watchful.node.isUp('c')) cDownAfter = t - 40_500
    }
    expect(cDownAfter).toBeDefined()
    expect(cDownAfter).toBeLessThanOrEqual(8_000)
  })
})

describe('claimant and ring', () => {
  test('the claimant is the up member with the lowest id this node believes alive', () => {
    const clock = { now: 0 }
    const [a, b] = [start('a', 1, clock), start('b', 1, clock)]
    a.node.tick(); b.node.tick()
    exchange(a.node, b.node)
    expect(a.node.isClaimant()).toBe(true)
    expect(b.node.isClaimant()).toBe(false)
    b.refused.set('a', Date.now() + 1_000) // b cannot reach a: a is down for b
    expect(b.node.isClaimant()).toBe(true)
    a.node.updateSelf({ status: 'leaving' }) // a leaving member never claims
    expect(a.node.isClaimant()).toBe(false)
  })

  test('a joining member makes the claimant plan a pending ring; the joiner is told the state; members() lists ring owners', () => {
    const clock = { now: 0 }
    const a = start('a', 1, clock)
    const d = new Membership({
      self: { id: 'd', address: '127.0.0.1:7100', weight: 1, generation: 1, status: 'joining' },
      seeds: [],
      ringState: undefined,
      replicas: 3,
      phi: {},
      unheardGraceMs: 5_000,
      logger,
      now: () => clock.now
    })
    expect(() => d.ring()).toThrow(/has not received the cluster's ring yet/)
    d.tick()
    exchange(d, a.node)
    expect(a.node.owners().map((m) => m.id)).toEqual(['a', 'b', 'c', 'd'])
    expect(a.node.claimIfClaimant()).toBe(true)
    const planned = a.node.ringState()!
    expect(planned.pending!.plan.members.map((m) => m.id)).toEqual(['a', 'b', 'c', 'd'])
    expect(d.adoptRing(planned)).toBe(true)
    expect(d.pendingRing()!.partitionsOf('d').length).toBe(4)
    expect(d.members().map((m) => m.id)).toEqual(['a', 'b', 'c', 'd'])
    expect(d.adoptRing(planned)).toBe(false) // nothing new
  })
})
