/**
 * A deterministic simulation of a whole cluster's control plane at hundreds or thousands of nodes:
 * the production ring (Ring.create, the claimant's claim step, preference lists), the production
 * gossip table merge (MemberTable: digest, deltaFor, entriesFor, merge, choosePeers), ring-state
 * merge and the production phi-accrual detector, run under a simulated clock and network. Nothing
 * here re-implements their logic: this file only schedules them (who gossips with whom, when, and
 * what a message costs), so the figures are those of the code the nodes run.
 *
 * The network: every gossip round (the production interval, 1 s) each live node starts, at its own
 * jittered moment, the three-message exchange of gossip-protocol.ts (SYN, ACK, ACK2 when needed)
 * with GOSSIP_FANOUT peers chosen by MemberTable.choosePeers; a message takes a seeded random
 * latency; a message to a dead node is lost. One seeded PRNG drives every choice: same seed, same
 * figures.
 */
import { PhiAccrualDetector } from '../../../gateway/src/membership/phi-accrual.js'
import { GOSSIP_FANOUT } from '../../../gateway/src/membership/gossiper.js'
import { MemberTable } from '../../../gateway/src/membership/member-table.js'
import { claim } from '../../../gateway/src/ring/ring-claimant.js'
import { ownershipMoves } from '../../../gateway/src/ring/ring-diff.js'
import { mergeRingStates, ringPlan, ringState, type RingState } from '../../../gateway/src/ring/ring-state.js'
import { Ring, zoneOf, type RingMember } from '../../../gateway/src/ring/ring.js'
import { seededRandom } from './seeded-random.js'

export interface SimulationOptions {
  readonly nodes: number
  readonly zones: number
  /** Partitions Q (a power of two). */
  readonly partitions: number
  /** Replication factor n. */
  readonly replicas: number
  readonly seed: number
  /** Gossip interval, ms (the production default: 1,000). */
  readonly intervalMs?: number
  /** Rounds run before the measurements, so every detector has learned the heartbeat interval. */
  readonly warmupRounds?: number
  /** Most rounds any phase may take before the simulation gives up on it. */
  readonly maxRounds?: number
}

export interface SimulationResult {
  readonly nodes: number
  readonly zones: number
  readonly partitions: number
  readonly replicas: number
  readonly seed: number
  readonly balance: {
    /** The largest node share of partitions over the mean share (weights equal). */
    readonly maxOverMean: number
    /** The largest zone share over its weight-proportional share. */
    readonly zoneMaxOverMean: number
    /** The most replicas (n) any node holds, over the mean. */
    readonly replicaMaxOverMean: number
  }
  readonly placement: {
    /** Fraction of partitions whose n primaries are in min(n, zones) distinct zones. */
    readonly distinctZonesFraction: number
  }
  readonly gossip: {
    /** Rounds until every live node's table holds a member that just joined through one seed. */
    readonly roundsToConverge: number
    /** Gossip messages sent meanwhile (SYN, ACK and ACK2 each count one). */
    readonly messages: number
    /** Rounds until every live node holds the ring state the claimant made for the join. */
    readonly ringRounds: number
  }
  readonly failure: {
    /** Rounds from a node's death until every live node's detector suspects it (phi >= threshold). */
    readonly roundsToDetect: number
    /** Gossip messages sent meanwhile. */
    readonly messages: number
    /** Simulated ms from the death until the first node suspects it, and until the last does. */
    readonly firstDetectionMs: number
    readonly lastDetectionMs: number
    /** Live nodes that suspected another live node at any point of the run (false positives). */
    readonly falseSuspicions: number
  }
  readonly join: {
    /** Partitions whose owner one join changes, as a fraction of Q. */
    readonly movedFraction: number
    /** The same over 1 / (N + 1), the joiner's fair share: 1.0 is the minimum possible. */
    readonly overFairShare: number
  }
  readonly leave: {
    readonly movedFraction: number
    readonly overFairShare: number
  }
}

/** Node ids sort in creation order, so a node's zone (index mod zones) spreads them evenly. */
const nodeId = (i: number): string => `n${String(i).padStart(5, '0')}`

/** A member of zone `z${i mod zones}`. */
const member = (i: number, zones: number): RingMember => ({ id: nodeId(i), weight: 1, zone: `z${i % zones}` })

/** One simulated node: its production gossip table and ring state, and its detectors. */
interface SimNode {
  readonly id: string
  table: MemberTable
  ring: RingState
  alive: boolean
  readonly detectors: Map<string, PhiAccrualDetector>
}

/** A deterministic cluster: nodes, a clock, and a message counter. */
class SimulatedCluster {
  readonly nodes = new Map<string, SimNode>()
  readonly random: () => number
  readonly intervalMs: number
  now = 0
  messages = 0
  /** Detectors are kept only for these members (all that the measurements read): thousands of nodes x thousands of detectors would not fit. */
  readonly watched = new Set<string>()
  falseSuspicions = new Set<string>()

  constructor (seed: number, intervalMs: number) {
    this.random = seededRandom(seed)
    this.intervalMs = intervalMs
  }

  add (m: RingMember, ring: RingState, generation: number): SimNode {
    const table = new MemberTable({ id: m.id, address: `sim:${m.id}`, generation, weight: m.weight, status: 'up', zone: zoneOf(m) })
    const node: SimNode = { id: m.id, table, ring, alive: true, detectors: new Map() }
    this.nodes.set(m.id, node)
    return node
  }

  /** A message's one-way latency: 0.2 to 2 ms (one data center's loopback-to-LAN range). */
  #latency (): number {
    return 0.2 + this.random() * 1.8
  }

  /** Feed `node`'s detectors with the heartbeat advances a merge reported, at time `at`. */
  #heard (node: SimNode, advanced: readonly string[], at: number): void {
    for (const id of advanced) {
      if (!this.watched.has(id)) continue
      let d = node.detectors.get(id)
      if (d === undefined) { d = new PhiAccrualDetector({ firstHeartbeatEstimateMs: this.intervalMs }); node.detectors.set(id, d) }
      d.heartbeat(at)
    }
  }

  /** One push-pull exchange, A -> B, started at `at` (gossip-protocol.ts: SYN, ACK, ACK2 when needed). */
  #exchange (a: SimNode, b: SimNode, at: number): void {
    this.messages++ // SYN
    if (!b.alive) return
    const delta = b.table.deltaFor(a.table.digest())
    const ringNews = mergeRingStates(a.ring, b.ring) !== a.ring
    this.messages++ // ACK
    const ackAt = at + this.#latency() * 2
    this.#heard(a, a.table.merge(delta.entries).heartbeatAdvanced, ackAt)
    if (ringNews) a.ring = mergeRingStates(a.ring, b.ring)
    const wantRing = mergeRingStates(b.ring, a.ring) !== b.ring
    if (delta.requests.length === 0 && !wantRing) return
    this.messages++ // ACK2
    const ack2At = ackAt + this.#latency()
    this.#heard(b, b.table.merge(a.table.entriesFor(delta.requests)).heartbeatAdvanced, ack2At)
    if (wantRing) b.ring = mergeRingStates(b.ring, a.ring)
  }

  /** One gossip round: every live node ticks and exchanges with GOSSIP_FANOUT peers, in a seeded order at jittered moments. */
  round (): void {
    const start = this.now
    const live = [...this.nodes.values()].filter((n) => n.alive)
    // Nodes gossip at their own phase of the interval, as processes started at different moments do.
    const moments = live.map((node) => ({ node, at: start + this.random() * this.intervalMs }))
    moments.sort((x, y) => x.at - y.at)
    for (const { node, at } of moments) {
      node.table.tick()
      for (const peer of node.table.choosePeers(GOSSIP_FANOUT, this.random)) {
        const other = this.nodes.get(peer.id)
        if (other !== undefined) this.#exchange(node, other, at)
      }
    }
    this.now = start + this.intervalMs
    this.#checkFalseSuspicions()
  }

  #checkFalseSuspicions (): void {
    for (const node of this.nodes.values()) {
      if (!node.alive) continue
      for (const [id, d] of node.detectors) {
        if (this.nodes.get(id)?.alive === true && d.phi(this.now) >= 8) this.falseSuspicions.add(`${node.id}->${id}`)
      }
    }
  }

  live (): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.alive)
  }
}

/** The largest of `values` over their mean. */
function maxOverMean (values: readonly number[]): number {
  const mean = values.reduce((s, v) => s + v, 0) / values.length
  return Math.max(...values) / mean
}

/** Balance and placement figures of a ring for n replicas. */
function ringFigures (ring: Ring, members: readonly RingMember[], n: number): Pick<SimulationResult, 'balance' | 'placement'> {
  const q = ring.partitionCount
  const owned = ring.shares()
  const shares = members.map((m) => owned.get(m.id) ?? 0)
  const zoneShare = new Map<string, number>()
  const zoneWeight = new Map<string, number>()
  const total = members.reduce((s, m) => s + m.weight, 0)
  for (const m of members) {
    zoneShare.set(zoneOf(m), (zoneShare.get(zoneOf(m)) ?? 0) + (owned.get(m.id) ?? 0))
    zoneWeight.set(zoneOf(m), (zoneWeight.get(zoneOf(m)) ?? 0) + m.weight)
  }
  const zoneRatios = [...zoneShare].map(([z, share]) => share / (q * zoneWeight.get(z)! / total))
  const load = new Map<string, number>()
  let spread = 0
  const zoneCount = zoneShare.size
  for (let p = 0; p < q; p++) {
    const list = ring.preferenceList(p, n)
    for (const node of list) load.set(node, (load.get(node) ?? 0) + 1)
    if (new Set(list.map((node) => ring.zoneOf(node))).size === Math.min(n, zoneCount, list.length)) spread++
  }
  return {
    balance: {
      maxOverMean: maxOverMean(shares),
      zoneMaxOverMean: Math.max(...zoneRatios),
      replicaMaxOverMean: maxOverMean(members.map((m) => load.get(m.id) ?? 0))
    },
    placement: { distinctZonesFraction: spread / q }
  }
}

/**
 * Run the simulation: a ring for `nodes` members in `zones` zones built as a cluster bootstraps it,
 * gossip warmed up; then a node joins through one seed (gossip and ring convergence, the partitions
 * the claim moves), then a node dies (failure detection), then a node leaves (the partitions moved).
 */
export function simulate (options: SimulationOptions): SimulationResult {
  const { nodes: count, zones, partitions: q, replicas: n, seed } = options
  const intervalMs = options.intervalMs ?? 1_000
  const maxRounds = options.maxRounds ?? 200
  const members = Array.from({ length: count }, (_, i) => member(i, zones))
  const ring = Ring.create(members, { partitionCount: q })
  const state = ringState(0, ringPlan(members, ring))
  const figures = ringFigures(ring, members, n)

  const sim = new SimulatedCluster(seed, intervalMs)
  // Every founding member knows every other (as --peers seeds them), each at its own generation.
  for (const [i, m] of members.entries()) sim.add(m, state, 1 + i)
  const selves = [...sim.nodes.values()].map((node) => node.table.self)
  for (const node of sim.nodes.values()) node.table.merge(selves)

  const victim = members[Math.floor(sim.random() * count)]!.id
  sim.watched.add(victim)
  // A few bystanders watched too, to count false suspicions among live nodes.
  for (let i = 0; i < 3; i++) sim.watched.add(members[Math.floor(sim.random() * count)]!.id)
  sim.watched.delete(victim)
  sim.watched.add(victim)
  for (let r = 0; r < (options.warmupRounds ?? 12); r++) sim.round()

  // Join: a new member learns the cluster from one seed (its first exchange), then gossip spreads it.
  const joiner: RingMember = member(count, zones)
  const joinerNode = sim.add(joiner, state, 1 + count)
  const seedNode = sim.nodes.get(members[Math.floor(sim.random() * count)]!.id)!
  joinerNode.table.merge(seedNode.table.entriesFor(seedNode.table.entries().map((e) => e.id)))
  seedNode.table.merge([joinerNode.table.self])
  const messagesBefore = sim.messages
  let roundsToConverge = 0
  while (sim.live().some((node) => node.table.get(joiner.id) === undefined)) {
    if (++roundsToConverge > maxRounds) throw new Error(`the join did not converge within ${maxRounds} rounds`)
    sim.round()
  }
  const messages = sim.messages - messagesBefore
  // The claimant (the lowest id, as membership.ts picks it) sees the new owner and plans the move.
  const claimant = sim.nodes.get(members[0]!.id)!
  const owners = claimant.table.entries().filter((e) => e.status === 'up').map(({ id, weight, zone }) => ({ id, weight, zone }))
  const planned = claim(claimant.ring, owners, n)
  if (planned?.pending === undefined) throw new Error('the claimant planned no move for the join')
  claimant.ring = planned
  let ringRounds = 0
  while (sim.live().some((node) => node.ring !== planned)) {
    if (++ringRounds > maxRounds) throw new Error(`the join's ring did not spread within ${maxRounds} rounds`)
    sim.round()
  }
  const joinMoved = ownershipMoves(planned.current.ring, planned.pending.plan.ring).length / q

  // Death: the victim stops; every live node's detector must come to suspect it.
  const deadNode = sim.nodes.get(victim)!
  deadNode.alive = false
  const diedAt = sim.now
  const messagesAtDeath = sim.messages
  const detectedAt = new Map<string, number>()
  let roundsToDetect = 0
  for (;;) {
    for (const node of sim.live()) {
      if (detectedAt.has(node.id)) continue
      const d = node.detectors.get(victim)
      if (d !== undefined && d.phi(sim.now) >= 8) detectedAt.set(node.id, sim.now)
    }
    if (detectedAt.size === sim.live().length) break
    if (++roundsToDetect > maxRounds) throw new Error(`the death was not detected everywhere within ${maxRounds} rounds`)
    sim.round()
  }
  const times = [...detectedAt.values()].map((t) => t - diedAt)

  // Leave: the joined ring (pending promoted) loses one member; the claim moves only its partitions.
  const joined = ringState(planned.epoch + 1, planned.pending.plan)
  const leaver = members[Math.floor(count / 2)]!.id
  const remaining = [...members, joiner].filter((m) => m.id !== leaver)
  const left = claim(joined, remaining, n)
  if (left?.pending === undefined) throw new Error('the claimant planned no move for the leave')
  const leaveMoved = ownershipMoves(left.current.ring, left.pending.plan.ring).length / q

  return {
    nodes: count,
    zones,
    partitions: q,
    replicas: n,
    seed,
    ...figures,
    gossip: { roundsToConverge, messages, ringRounds },
    failure: {
      roundsToDetect,
      messages: sim.messages - messagesAtDeath,
      firstDetectionMs: Math.min(...times),
      lastDetectionMs: Math.max(...times),
      falseSuspicions: sim.falseSuspicions.size
    },
    join: { movedFraction: joinMoved, overFairShare: joinMoved * (count + 1) },
    leave: { movedFraction: leaveMoved, overFairShare: leaveMoved * count }
  }
}
