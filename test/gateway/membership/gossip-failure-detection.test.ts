import { describe, expect, it } from 'vitest'
import { MemberTable, type MergeOutcome } from '../../../gateway/src/membership/member-table.js'
import { PhiAccrualDetector } from '../../../gateway/src/membership/phi-accrual.js'
import { seededRandom } from '../../support/random.mjs'

/**
 * MemberTable and phi-accrual together, on a simulated clock: every node gossips every second (its
 * timer jittering by +-50 ms) with 3 random peers through the digest protocol, 2% of exchanges are
 * lost, and each node runs one detector per member, fed when gossip shows that member's heartbeat
 * advanced. Heartbeats therefore reach an observer relayed and irregularly, as they will in the
 * real cluster. One node is slow but alive (ticks every 2-3 s); one is killed and later restarted.
 */
describe('gossip-fed failure detection (simulated clock)', () => {
  const N = 12
  const FANOUT = 3
  const LOSS = 0.02
  const SLOW = 'n07'
  const VICTIM = 'n05'
  const KILL_AT = 120_000
  const RESTART_AT = 150_000
  const END = 180_000

  interface SimNode { membership: MemberTable, detectors: Map<string, PhiAccrualDetector>, nextTick: number, alive: boolean }

  it('suspects a killed node within seconds everywhere, sees its restart at once, and never suspects a live or slow one', () => {
    const rng = seededRandom(2024)
    const name = (i: number): string => `n${String(i).padStart(2, '0')}`
    const nodes = new Map<string, SimNode>()
    const start = (id: string, now: number): void => {
      const membership = new MemberTable({ id, address: `127.0.0.1:${7000 + Number(id.slice(1))}`, generation: now + 1 })
      membership.updateSelf({ status: 'up' })
      nodes.set(id, { membership, detectors: new Map(), nextTick: now + rng() * 1000, alive: true })
    }
    for (let i = 0; i < N; i++) start(name(i), 0)

    const observe = (node: SimNode, outcome: MergeOutcome, now: number): void => {
      for (const id of outcome.restarted) node.detectors.delete(id)
      for (const id of outcome.heartbeatAdvanced) {
        let d = node.detectors.get(id)
        if (d === undefined) { d = new PhiAccrualDetector(); node.detectors.set(id, d) }
        d.heartbeat(now)
      }
    }
    const gossip = (node: SimNode, now: number): void => {
      node.membership.tick()
      const peers = node.membership.choosePeers(FANOUT, rng).map(e => nodes.get(e.id)!)
      if (peers.length === 0 && node.membership.selfId !== name(0)) peers.push(nodes.get(name(0))!)
      for (const peer of peers) {
        if (!peer.alive || rng() < LOSS) continue
        const delta = peer.membership.deltaFor(node.membership.digest())
        observe(node, node.membership.merge(delta.entries), now)
        observe(peer, peer.membership.merge(node.membership.entriesFor(delta.requests)), now)
      }
      const interval = node.membership.selfId === SLOW ? 2000 + rng() * 1000 : 1000 + (rng() - 0.5) * 100
      node.nextTick = now + interval
    }

    const falseSuspicions: string[] = []
    const suspectedVictimAt = new Map<string, number>()
    const sawRestartAt = new Map<string, number>()
    let restarted = false
    for (let now = 0; now <= END; now += 100) {
      if (now === KILL_AT) nodes.get(VICTIM)!.alive = false
      if (now === RESTART_AT) { start(VICTIM, now); restarted = true }
      for (const node of nodes.values()) {
        while (node.alive && node.nextTick <= now) gossip(node, node.nextTick)
      }
      if (now < 30_000) continue // warm-up: tables are still filling
      for (const observer of nodes.values()) {
        if (!observer.alive) continue
        const self = observer.membership.selfId
        for (const [id, d] of observer.detectors) {
          if (id === self) continue
          const victimDown = id === VICTIM && now >= KILL_AT && (!restarted || observer.membership.get(VICTIM)!.generation <= 1)
          if (victimDown) {
            if (!d.isAvailable(now) && !suspectedVictimAt.has(self)) suspectedVictimAt.set(self, now)
            continue
          }
          if (id === VICTIM && restarted && !sawRestartAt.has(self) && d.isAvailable(now)) sawRestartAt.set(self, now)
          if (!d.isAvailable(now)) falseSuspicions.push(`${self} suspected ${id} at ${now} ms`)
        }
      }
    }

    const observers = [...nodes.keys()].filter(id => id !== VICTIM)
    const detection = observers.map(id => (suspectedVictimAt.get(id) ?? Infinity) - KILL_AT)
    const rejoin = observers.map(id => (sawRestartAt.get(id) ?? Infinity) - RESTART_AT)
    expect(falseSuspicions).toEqual([])
    expect(Math.max(...detection)).toBeLessThanOrEqual(10_000)
    expect(Math.min(...detection)).toBeGreaterThan(1000)
    expect(Math.max(...rejoin)).toBeLessThanOrEqual(5000)
  })
})
