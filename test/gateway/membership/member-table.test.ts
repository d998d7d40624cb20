import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { errorCode } from '../helpers/error-code.js'
import { MemberTable, type MemberEntry, type MemberStatus } from '../../../gateway/src/membership/member-table.js'
import { seededRandom } from '../../support/random.mjs'

const id = (i: number): string => `n${String(i).padStart(3, '0')}`

function member (i: number, generation = 1000 + i): MemberTable {
  return new MemberTable({ id: id(i), address: `127.0.0.1:${7000 + i}`, generation })
}

function entry (over: Partial<MemberEntry> & { id: string }): MemberEntry {
  return { address: '127.0.0.1:7000', generation: 1, heartbeat: 0, version: 0, status: 'up', weight: 1, ...over }
}

/** One push-pull gossip exchange, A initiating: digest, delta, requested entries. */
function exchange (a: MemberTable, b: MemberTable): void {
  const delta = b.deltaFor(a.digest())
  a.merge(delta.entries)
  b.merge(a.entriesFor(delta.requests))
}

/** A table's gossiped state without heartbeats (they advance every round, so never settle). */
function stateOf (m: MemberTable): string {
  return JSON.stringify(m.entries().map(e => [e.id, e.generation, e.version, e.status, e.weight, e.address]))
}

describe('MemberTable', () => {
  it('starts with itself, bumps its heartbeat per tick and its version per real change', () => {
    const m = member(1)
    expect(m.self).toEqual({ id: 'n001', address: '127.0.0.1:7001', generation: 1001, heartbeat: 0, version: 0, status: 'joining', weight: 1 })
    m.tick()
    m.tick()
    expect(m.self.heartbeat).toBe(2)
    m.updateSelf({ status: 'up' })
    expect(m.self.version).toBe(1)
    m.updateSelf({ status: 'up', weight: 1 })
    expect(m.self.version).toBe(1)
    m.updateSelf({ weight: 3, address: '127.0.0.1:9000' })
    expect(m.self).toMatchObject({ version: 2, weight: 3, address: '127.0.0.1:9000', heartbeat: 2 })
    expect(errorCode(() => m.updateSelf({ weight: 0 }))).toBe('CLUSTER_INVALID_MEMBER')
    expect(m.self.weight).toBe(3)
  })

  it('merges by taking the newer entry and reports what changed', () => {
    const m = member(0)
    let out = m.merge([entry({ id: 'a', heartbeat: 5 })])
    expect(out).toEqual({ added: ['a'], restarted: [], heartbeatAdvanced: ['a'], stateChanged: ['a'], selfSuperseded: false })
    out = m.merge([entry({ id: 'a', heartbeat: 4, version: 0 })])
    expect(out.heartbeatAdvanced).toEqual([])
    expect(m.get('a')!.heartbeat).toBe(5)
    // A newer state with an older heartbeat: the state is taken, the heartbeat kept.
    out = m.merge([entry({ id: 'a', heartbeat: 3, version: 1, status: 'leaving' })])
    expect(out).toMatchObject({ heartbeatAdvanced: [], stateChanged: ['a'] })
    expect(m.get('a')).toMatchObject({ heartbeat: 5, version: 1, status: 'leaving' })
    out = m.merge([entry({ id: 'a', heartbeat: 9, version: 1, status: 'leaving' })])
    expect(out).toMatchObject({ heartbeatAdvanced: ['a'], stateChanged: [] })
    // Restart: a new generation replaces everything, heartbeat and version start over.
    out = m.merge([entry({ id: 'a', generation: 2, heartbeat: 0, version: 0, status: 'joining' })])
    expect(out).toMatchObject({ restarted: ['a'], heartbeatAdvanced: ['a'], stateChanged: ['a'] })
    expect(m.get('a')).toMatchObject({ generation: 2, heartbeat: 0, status: 'joining' })
    // A stale incarnation is ignored.
    out = m.merge([entry({ id: 'a', generation: 1, heartbeat: 100, version: 9 })])
    expect(out).toMatchObject({ heartbeatAdvanced: [], stateChanged: [] })
    expect(m.get('a')!.generation).toBe(2)
  })

  it('converges to the same table whatever order and multiplicity entries arrive in', () => {
    const statuses: MemberStatus[] = ['joining', 'up', 'leaving', 'left']
    const arbEntry = fc.record({
      id: fc.constantFrom('a', 'b', 'c'),
      address: fc.constantFrom('127.0.0.1:1', '127.0.0.1:2'),
      generation: fc.integer({ min: 1, max: 3 }),
      heartbeat: fc.integer({ min: 0, max: 5 }),
      version: fc.integer({ min: 0, max: 3 }),
      status: fc.constantFrom(...statuses),
      weight: fc.integer({ min: 1, max: 3 })
    })
    fc.assert(fc.property(fc.array(arbEntry, { maxLength: 12 }), fc.integer(), (entries, seed) => {
      const rng = seededRandom(seed)
      const shuffled = [...entries, ...entries.slice(0, 3)].sort(() => rng() - 0.5)
      const one = member(9)
      one.merge(entries)
      const other = member(9)
      // Delivered one at a time, in another order, some twice.
      for (const e of shuffled) other.merge([e])
      const batched = member(9)
      batched.merge(shuffled.slice(0, 4))
      batched.merge(shuffled.slice(4))
      const full = (m: MemberTable): string => JSON.stringify(m.entries())
      expect(full(other)).toBe(full(one))
      expect(full(batched)).toBe(full(one))
    }), { numRuns: 300, seed: 42 })
  })

  it('resolves concurrent changes at the same version the same way everywhere: the later status wins', () => {
    const a = member(1)
    const b = member(2)
    a.merge([entry({ id: 'x', version: 0, status: 'up' })])
    b.merge([entry({ id: 'x', version: 0, status: 'up' })])
    a.setStatus('x', 'left')
    b.setStatus('x', 'joining')
    exchange(a, b)
    expect(a.get('x')!.status).toBe('left')
    expect(b.get('x')!.status).toBe('left')
    expect(errorCode(() => a.setStatus('nobody', 'left'))).toBe('CLUSTER_INVALID_MEMBER')
  })

  it('adopts an administrative change of its own status but never a regression, and flags an id clash', () => {
    const self = member(1)
    self.updateSelf({ status: 'up' })
    for (let i = 0; i < 5; i++) self.tick()
    const admin = member(2)
    exchange(admin, self)
    admin.setStatus('n001', 'leaving')
    const delta = self.deltaFor(admin.digest())
    expect(delta.requests).toEqual(['n001'])
    expect(self.merge(admin.entriesFor(delta.requests)).stateChanged).toEqual(['n001'])
    expect(self.self).toMatchObject({ status: 'leaving', version: 2, heartbeat: 5 })
    const stale = self.merge([{ ...self.self, version: 1, status: 'up', heartbeat: 99 }])
    expect(stale.selfSuperseded).toBe(false)
    expect(self.self).toMatchObject({ status: 'leaving', heartbeat: 5 })
    const clash = self.merge([{ ...self.self, generation: self.self.generation + 1 }])
    expect(clash.selfSuperseded).toBe(true)
    expect(self.self.generation).toBe(1001)
  })

  it('exchanges only what differs: digest, delta, requested entries', () => {
    const a = member(1)
    const b = member(2)
    a.merge([entry({ id: 'x', heartbeat: 7 }), entry({ id: 'y', heartbeat: 1 })])
    b.merge([entry({ id: 'x', heartbeat: 3 }), entry({ id: 'y', heartbeat: 4 }), entry({ id: 'z' })])
    const delta = b.deltaFor(a.digest())
    // b sends what a lacks or holds older (its own entry, y, z) and asks for what a holds newer (a's own entry, x).
    expect(delta.entries.map(e => e.id)).toEqual(['n002', 'y', 'z'])
    expect(delta.requests).toEqual(['n001', 'x'])
    a.merge(delta.entries)
    b.merge(a.entriesFor(delta.requests))
    expect(JSON.stringify(a.entries())).toBe(JSON.stringify(b.entries()))
    const settled = b.deltaFor(a.digest())
    expect(settled).toEqual({ entries: [], requests: [] })
  })

  it('chooses k distinct random peers, never itself or a left member', () => {
    const m = member(0)
    m.merge([1, 2, 3, 4, 5].map(i => entry({ id: id(i) })))
    m.merge([entry({ id: id(6), status: 'left' })])
    const rng = seededRandom(3)
    const counts = new Map<string, number>()
    for (let i = 0; i < 5000; i++) {
      const peers = m.choosePeers(2, rng)
      expect(peers.length).toBe(2)
      expect(new Set(peers.map(p => p.id)).size).toBe(2)
      for (const p of peers) counts.set(p.id, (counts.get(p.id) ?? 0) + 1)
    }
    expect([...counts.keys()].sort()).toEqual([id(1), id(2), id(3), id(4), id(5)])
    // Each of 5 peers expects 2,000 picks; 10% is over five standard deviations.
    for (const c of counts.values()) expect(Math.abs(c - 2000)).toBeLessThan(200)
    expect(m.choosePeers(10, rng).length).toBe(5)
    expect(m.choosePeers(3, rng, e => e.id === id(4)).map(e => e.id)).toEqual([id(4)])
    expect(member(7).choosePeers(3)).toEqual([])
    expect(errorCode(() => m.choosePeers(-1))).toBe('CLUSTER_INVALID_OPTION')
  })

  it('rejects malformed gossiped entries without changing the table', () => {
    const m = member(0)
    const before = JSON.stringify(m.entries())
    const bad: unknown[] = [
      null,
      entry({ id: '' }),
      entry({ id: 'a', heartbeat: -1 }),
      entry({ id: 'a', generation: 1.5 }),
      entry({ id: 'a', weight: 0 }),
      { ...entry({ id: 'a' }), status: 'down' },
      { ...entry({ id: 'a' }), address: 7 }
    ]
    for (const e of bad) expect(errorCode(() => m.merge([entry({ id: 'good' }), e as MemberEntry]))).toBe('CLUSTER_INVALID_MEMBER')
    expect(JSON.stringify(m.entries())).toBe(before)
    expect(errorCode(() => m.deltaFor([{ id: 'a', generation: -1, version: 0, heartbeat: 0, status: 'up' }]))).toBe('CLUSTER_INVALID_MEMBER')
    // Fields a peer adds are not kept (nor gossiped on).
    m.merge([{ ...entry({ id: 'extra' }), secret: 'x' } as MemberEntry])
    expect(Object.keys(m.get('extra')!).sort()).toEqual(['address', 'generation', 'heartbeat', 'id', 'status', 'version', 'weight'])
  })
})

describe('gossip convergence (simulated, fan-out 3)', () => {
  const FANOUT = 3

  /**
   * One gossip round: every node ticks and exchanges with k random peers (a node that knows nobody
   * contacts the seed, node 0). `synchronous`: every exchange carries only what its two sides knew
   * when the round began (the pessimistic model, as if all messages crossed at once); otherwise
   * exchanges run one after another through the digest protocol, so news can travel several hops in
   * one round as it does when real exchanges interleave.
   */
  function round (nodes: MemberTable[], byId: Map<string, MemberTable>, rng: () => number, synchronous: boolean): void {
    for (const node of nodes) node.tick()
    const snapshot = synchronous ? new Map(nodes.map(m => [m.selfId, m.entries()])) : undefined
    const order = nodes.map((_, i) => i).sort(() => rng() - 0.5)
    for (const i of order) {
      const node = nodes[i]!
      const peers = node.choosePeers(FANOUT, rng).map(p => byId.get(p.id)!)
      if (peers.length === 0 && i !== 0) peers.push(nodes[0]!)
      for (const peer of peers) {
        if (snapshot === undefined) {
          exchange(node, peer)
        } else {
          node.merge(snapshot.get(peer.selfId)!)
          peer.merge(snapshot.get(node.selfId)!)
        }
      }
    }
  }

  function roundsUntil (step: () => void, done: () => boolean): number {
    for (let r = 1; r <= 200; r++) {
      step()
      if (done()) return r
    }
    throw new Error('gossip did not converge in 200 rounds')
  }

  it('converges a cold start through one seed, and spreads a change, in O(log n) rounds', () => {
    const trials = 3
    for (const synchronous of [true, false]) {
      for (const n of [8, 32, 128]) {
        const bound = 4 * Math.log2(n) + 4
        const join: number[] = []
        const rumor: number[] = []
        for (let seed = 1; seed <= trials; seed++) {
          const rng = seededRandom(seed * 1000 + n)
          const nodes = Array.from({ length: n }, (_, i) => member(i))
          for (const m of nodes) m.updateSelf({ status: 'up' })
          const byId = new Map(nodes.map(m => [m.selfId, m]))
          const step = (): void => round(nodes, byId, rng, synchronous)
          join.push(roundsUntil(step, () => {
            const first = stateOf(nodes[0]!)
            return nodes.every(m => m.entries().length === n && stateOf(m) === first)
          }))
          // A rumor: one node changes its weight; how long until every table shows it.
          const source = nodes[Math.floor(rng() * n)]!
          source.updateSelf({ weight: 2 })
          rumor.push(roundsUntil(step, () => nodes.every(m => m.get(source.selfId)!.weight === 2)))
        }
        for (const r of [...join, ...rumor]) expect(r).toBeLessThanOrEqual(bound)
      }
    }
  })
})
