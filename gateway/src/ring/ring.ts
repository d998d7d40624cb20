/**
 * The ring: Dynamo's strategy 3 (Q equal partitions, assigned to nodes by weight), as Riak runs it.
 *
 * Ownership. Each member's share of the Q partitions is its weight's share of the total, rounded by
 * the largest-remainder method: every node owns floor(Q*w/W) or that plus one, which is the best any
 * assignment can do. (With Q = 64 that is within 15% of the mean for 3..14 equal nodes but not for
 * 15, 19-21, 25-31 or 37-63, and no assignment can be: 25 nodes over 64 partitions means some own 3
 * against a mean of 2.56. n equal nodes stay within 15% whenever Q >= 7n, e.g. Q = 512 up to 73.)
 *
 * Two ways to build a ring, both pure and deterministic (members are sorted by id; no randomness):
 *  - Ring.create(members): from scratch. Targets as above; partitions are dealt in ring order by
 *    smooth weighted round robin (nginx's), so equal nodes alternate a,b,c,a,b,c,... and a node's
 *    partitions sit as far apart as the weights allow.
 *  - ring.rebalance(members): the claim step, from the previous ring. Partitions of members that are
 *    gone become orphans; targets are recomputed, preferring to keep the "+1" where a node already
 *    holds it (so a join never turns an old node into a receiver); then, while some node is under its
 *    target, the node furthest under it takes one partition from the candidates: orphans and the
 *    partitions of nodes over their target. Spacing decides first (Riak's target_n_val: a node's
 *    partitions closer than `spacing` make preference lists reach further and skew replica load): it
 *    picks the partition whose move most reduces the number of same-owner pairs closer than
 *    `spacing` (pairs it would create with its own partitions, minus pairs the donor loses), then
 *    fewest created, then orphans first, then from the most over-target (most loaded) node, then the
 *    lowest index. Counting the donor's side lets joins repair the clumps an earlier small ring had
 *    to have (2 nodes alternate a,b,a,b), so a ring grown by joins spreads replicas about as well as
 *    one built from scratch (the ring tests print the replica load). Every moved partition moves
 *    once, from a node over target (or gone) to one under it, so the number moved is the minimum the
 *    targets allow: when a node joins equal nodes, exactly its own share moves (~Q/(n+1)) and only
 *    to it; when a node leaves, only its partitions move. (With unequal weights a rounding "+1" can
 *    rarely have to pass between old nodes.) rebalance of an unchanged membership is the identity,
 *    and Ring.create(M).rebalance(M) equals Ring.create(M). Q and spacing are cluster-wide settings:
 *    every node must use the same ones. Cost: O(moved x Q x spacing), ~0.3 s for a join at Q = 4,096.
 *
 * Agreement. rebalance depends on the previous ring, so nodes agree on a ring by sharing it, not by
 * each replaying membership events in whatever order gossip delivered them: the integration gossips
 * the ring (toJSON, with an epoch) and lets one claimant (e.g. the lowest-id member that is up)
 * compute rebalance(current, members) when the owning membership changes. Because rebalance is
 * deterministic, two claimants acting at once from the same ring and membership produce the same ring
 * (compare digest()). Ring.create is the bootstrap and the fallback when no previous ring exists.
 */
import { createHash } from 'node:crypto'
import { GatewayError } from '../error/gateway-error.js'
import { assertPartition, assertPartitionCount, DEFAULT_PARTITION_COUNT, partitionOf } from './partition.js'

/** A node as the ring sees it: a unique id, a weight (its share relative to the others) and a zone (DEFAULT_ZONE when absent). */
export interface RingMember {
  readonly id: string
  readonly weight: number
  /** The failure domain (data center, rack): a key's replicas go to as many distinct zones as there are. */
  readonly zone?: string
}

/** The zone of a member that names none: a cluster without zones is one zone. */
export const DEFAULT_ZONE = 'default'

/** A zone name: a letter or digit, then up to 63 letters, digits, '.', '_' or '-' (it appears in logs, URLs and JSON as is). */
const ZONE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** Throws CLUSTER_INVALID_MEMBER unless `zone` is a valid zone name. */
export function assertZoneName (zone: string, what = 'zone'): void {
  if (typeof zone !== 'string' || !ZONE_NAME.test(zone)) {
    throw new GatewayError('CLUSTER_INVALID_MEMBER', `${what} ${JSON.stringify(zone)} is not a zone name; use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`)
  }
}

/** The zone of a member (DEFAULT_ZONE when it names none). */
export function zoneOf (member: RingMember): string {
  return member.zone ?? DEFAULT_ZONE
}

/** How to build a ring: Q (a power of two) and the spacing the claim tries to keep. */
export interface RingOptions {
  readonly partitionCount?: number
  readonly spacing?: number
}

/** Where a sloppy-quorum request goes: the node, and the primary it stands in for if it is a fallback. */
export interface SloppyTarget {
  readonly node: string
  /** Set when `node` is a fallback: the down primary whose replica it keeps as a hint. */
  readonly hintFor?: string
}

/** The ring as gossiped or stored: node ids (sorted), per partition an index into them, and each node's zone (absent when every node is in DEFAULT_ZONE). */
export interface RingJSON {
  readonly partitionCount: number
  readonly nodes: readonly string[]
  readonly owners: readonly number[]
  readonly zones?: readonly string[]
}

/** Riak's target_n_val: a node's partitions are kept >= 4 apart when there is a choice, so preference lists for n <= 4 seldom reach past n partitions. */
export const DEFAULT_SPACING = 4

/** Largest weight: keeps Q * weight and the sum of weights exact integers (4,096 * 2^20 * many nodes << 2^53). */
export const MAX_WEIGHT = 1_048_576

/** Code-unit order, the same on every node (localeCompare would depend on the locale). */
function byId (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function validMembers (members: readonly RingMember[]): RingMember[] {
  if (members.length === 0) {
    throw new GatewayError('CLUSTER_INVALID_MEMBER', 'a ring needs at least one member; add a node before building it')
  }
  const seen = new Set<string>()
  for (const m of members) {
    if (typeof m.id !== 'string' || m.id.length === 0) {
      throw new GatewayError('CLUSTER_INVALID_MEMBER', `member id ${JSON.stringify(m.id)} must be a non-empty string`)
    }
    if (seen.has(m.id)) {
      throw new GatewayError('CLUSTER_INVALID_MEMBER', `member ${m.id} is listed twice; ids must be unique`)
    }
    if (!Number.isSafeInteger(m.weight) || m.weight < 1 || m.weight > MAX_WEIGHT) {
      throw new GatewayError('CLUSTER_INVALID_MEMBER', `member ${m.id} has weight ${String(m.weight)}; use an integer from 1 to ${MAX_WEIGHT}`)
    }
    if (m.zone !== undefined) assertZoneName(m.zone, `member ${m.id}'s zone`)
    seen.add(m.id)
  }
  return [...members].sort((a, b) => byId(a.id, b.id))
}

function assertReplicaCount (n: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new GatewayError('CLUSTER_INVALID_OPTION', `replica count n=${String(n)} must be a positive integer`)
  }
}

function validSpacing (spacing: number | undefined): number {
  const s = spacing ?? DEFAULT_SPACING
  if (!Number.isInteger(s) || s < 1) {
    throw new GatewayError('CLUSTER_INVALID_OPTION', `ring spacing ${String(spacing)} must be a positive integer (1 disables spreading)`)
  }
  return s
}

/**
 * Partitions each member should own: floor(Q*w/W), plus one for as many as the remainder allows.
 * The "+1"s go first to members already holding more than their floor, then to members that must
 * receive anyway, then to the rest; within a group by largest remainder, then id.
 */
function ownershipTargets (sorted: readonly RingMember[], q: number, held: ReadonlyMap<string, number>): Map<string, number> {
  const total = sorted.reduce((sum, m) => sum + m.weight, 0)
  const rows = sorted.map((m, index) => {
    const scaled = q * m.weight
    const floor = Math.floor(scaled / total)
    const have = held.get(m.id) ?? 0
    return { id: m.id, index, floor, remainder: scaled - floor * total, group: have > floor ? 0 : have < floor ? 1 : 2 }
  })
  let extra = q - rows.reduce((sum, r) => sum + r.floor, 0)
  const order = [...rows].sort((a, b) => a.group - b.group || b.remainder - a.remainder || a.index - b.index)
  const targets = new Map<string, number>(rows.map(r => [r.id, r.floor]))
  for (const r of order) {
    if (extra === 0) break
    targets.set(r.id, r.floor + 1)
    extra--
  }
  return targets
}

/**
 * ownershipTargets at two levels: Q among the zones by zone weight (the sum of its members'), then
 * each zone's share among its members. Zone shares are then within one partition of proportional,
 * and node shares within one of their zone's proportional split. With one zone this is ownershipTargets.
 */
function zoneAwareTargets (sorted: readonly RingMember[], q: number, held: ReadonlyMap<string, number>): Map<string, number> {
  const zones = membersByZone(sorted)
  if (zones.size <= 1) return ownershipTargets(sorted, q, held)
  const rows = [...zones].map(([zone, members]) => ({ id: zone, weight: members.reduce((sum, m) => sum + m.weight, 0) }))
  const zoneHeld = new Map([...zones].map(([zone, members]) => [zone, members.reduce((sum, m) => sum + (held.get(m.id) ?? 0), 0)]))
  const zoneTargets = ownershipTargets(rows, q, zoneHeld)
  const targets = new Map<string, number>()
  for (const [zone, members] of zones) {
    for (const [id, t] of ownershipTargets(members, zoneTargets.get(zone)!, held)) targets.set(id, t)
  }
  return targets
}

/** Members grouped by zone; zones sorted by name, members keep their (id) order. */
function membersByZone (sorted: readonly RingMember[]): Map<string, RingMember[]> {
  const zones = new Map<string, RingMember[]>()
  for (const m of sorted) {
    const zone = zoneOf(m)
    let list = zones.get(zone)
    if (list === undefined) { list = []; zones.set(zone, list) }
    list.push(m)
  }
  return new Map([...zones].sort(([a], [b]) => byId(a, b)))
}

/**
 * Smooth weighted round robin (nginx's) over one cycle of `slots` picks: each entry picked exactly
 * `targets[i]` times (they sum to `slots`), interleaved as evenly as the targets allow.
 */
function smoothRoundRobin (targets: readonly number[], slots: number): number[] {
  const credit = targets.map(() => 0)
  const picks: number[] = []
  for (let s = 0; s < slots; s++) {
    let best = 0
    for (let i = 0; i < targets.length; i++) {
      credit[i]! += targets[i]!
      if (credit[i]! > credit[best]!) best = i
    }
    credit[best]! -= slots
    picks.push(best)
  }
  return picks
}

/** An immutable assignment of Q equal partitions to nodes; every method is a pure function of it. */
export class Ring {
  /** Q: the number of equal partitions, a power of two. */
  readonly partitionCount: number
  readonly #owners: readonly string[]
  /** The zone of every owner. */
  readonly #zones: ReadonlyMap<string, string>
  /** Distinct owners per zone, zones sorted by name. */
  readonly #zoneSizes: ReadonlyMap<string, number>
  /** Per n: the deepest round (replicas per zone) a preference list of n reaches; see preferenceList. */
  readonly #levels = new Map<number, number>()
  #digest: string | undefined

  private constructor (owners: readonly string[], zones: ReadonlyMap<string, string>) {
    this.partitionCount = owners.length
    this.#owners = owners
    const owning = new Map<string, string>()
    for (const o of owners) if (!owning.has(o)) owning.set(o, zones.get(o) ?? DEFAULT_ZONE)
    this.#zones = owning
    const sizes = new Map<string, number>()
    for (const zone of owning.values()) sizes.set(zone, (sizes.get(zone) ?? 0) + 1)
    this.#zoneSizes = new Map([...sizes].sort(([a], [b]) => byId(a, b)))
  }

  /** A ring built from scratch for these members: balanced by weight, dealt round-robin; same members, same ring. */
  static create (members: readonly RingMember[], options: RingOptions = {}): Ring {
    const q = options.partitionCount ?? DEFAULT_PARTITION_COUNT
    assertPartitionCount(q)
    validSpacing(options.spacing)
    const sorted = validMembers(members)
    const targets = zoneAwareTargets(sorted, q, new Map())
    // Zones are dealt first (a,b,c,a,b,c for equal zones), then each zone's slots among its members,
    // so neighbouring partitions sit in different zones and a member's partitions far apart.
    const zones = [...membersByZone(sorted)].map(([, zoneMembers]) => zoneMembers.filter(m => (targets.get(m.id) ?? 0) > 0))
    const zoneShares = zones.map(zoneMembers => zoneMembers.reduce((sum, m) => sum + targets.get(m.id)!, 0))
    const zoneSlots = smoothRoundRobin(zoneShares, q)
    const dealt = zones.map((zoneMembers, z) => smoothRoundRobin(zoneMembers.map(m => targets.get(m.id)!), zoneShares[z]!).map(i => zoneMembers[i]!.id))
    const next = zones.map(() => 0)
    const owners = zoneSlots.map(z => dealt[z]![next[z]!++]!)
    return new Ring(owners, zoneMap(sorted))
  }

  /** A ring read back from toJSON(); throws CLUSTER_INVALID_RING if it is malformed. */
  static fromJSON (json: RingJSON): Ring {
    const invalid = (why: string): GatewayError => new GatewayError('CLUSTER_INVALID_RING', `ring document rejected: ${why}; send the output of Ring.toJSON()`)
    if (json === null || typeof json !== 'object') throw invalid('not an object')
    try {
      assertPartitionCount(json.partitionCount)
    } catch (err) {
      throw invalid((err as Error).message)
    }
    if (!Array.isArray(json.nodes) || !Array.isArray(json.owners)) throw invalid('nodes and owners must be arrays')
    if (json.owners.length !== json.partitionCount) throw invalid(`${json.owners.length} owners for ${json.partitionCount} partitions`)
    const nodes = json.nodes
    if (nodes.some(n => typeof n !== 'string' || n.length === 0) || new Set(nodes).size !== nodes.length) {
      throw invalid('node ids must be unique non-empty strings')
    }
    const owners = json.owners.map((i, p) => {
      if (!Number.isInteger(i) || i < 0 || i >= nodes.length) throw invalid(`partition ${p} names node index ${String(i)} of ${nodes.length}`)
      return nodes[i]!
    })
    const zones = new Map<string, string>()
    if (json.zones !== undefined) {
      if (!Array.isArray(json.zones) || json.zones.length !== nodes.length) throw invalid('zones must list one zone per node')
      for (const [i, zone] of json.zones.entries()) {
        if (typeof zone !== 'string' || !ZONE_NAME.test(zone)) throw invalid(`node ${nodes[i]!} has the invalid zone ${JSON.stringify(zone)}`)
        zones.set(nodes[i]!, zone)
      }
    }
    return new Ring(owners, zones)
  }

  /**
   * The claim step: the ring for `members` that moves the fewest partitions from this one (see the
   * file comment). Deterministic in (this ring, members); the partition count is kept.
   */
  rebalance (members: readonly RingMember[], options: Pick<RingOptions, 'spacing'> = {}): Ring {
    const spacing = validSpacing(options.spacing)
    const sorted = validMembers(members)
    const index = new Map(sorted.map((m, i) => [m.id, i]))
    const q = this.partitionCount
    // Members by index into `sorted`; -1 marks an orphan (its owner is gone).
    const owners = Int32Array.from(this.#owners, o => index.get(o) ?? -1)
    const counts = new Int32Array(sorted.length)
    for (const o of owners) if (o >= 0) counts[o]!++
    const targetOf = zoneAwareTargets(sorted, q, new Map(sorted.map((m, i) => [m.id, counts[i]!])))
    const targets = Int32Array.from(sorted, m => targetOf.get(m.id)!)
    const reach = Math.min(spacing - 1, Math.floor((q - 1) / 2))
    const conflicts = (p: number, node: number): number => {
      let c = 0
      for (let d = 1; d <= reach; d++) {
        if (owners[(p + d) % q] === node) c++
        if (owners[(p - d + q) % q] === node) c++
      }
      return c
    }
    // Zones spread like nodes: within zoneReach, neighbouring partitions should be in other zones
    // (with Z zones, Z - 1 neighbours each way can be), so preference lists find their zones close by.
    const zoneNames = [...membersByZone(sorted).keys()]
    const zoneIndex = new Map(zoneNames.map((z, i) => [z, i]))
    const zoneOfMember = Int32Array.from(sorted, m => zoneIndex.get(zoneOf(m))!)
    const zoneReach = Math.min(reach, zoneNames.length - 1)
    const zoneConflicts = (p: number, zone: number): number => {
      let c = 0
      for (let d = 1; d <= zoneReach; d++) {
        const after = owners[(p + d) % q]!
        const before = owners[(p - d + q) % q]!
        if (after >= 0 && zoneOfMember[after] === zone) c++
        if (before >= 0 && zoneOfMember[before] === zone) c++
      }
      return c
    }

    for (;;) {
      let receiver = -1
      let deficit = 0
      for (let i = 0; i < sorted.length; i++) {
        const d = targets[i]! - counts[i]!
        if (d > deficit) { deficit = d; receiver = i }
      }
      if (receiver < 0) break
      // Sum(targets) = Q, so while someone is under target an orphan or an over-target partition exists.
      // Score, smaller is better: (created - removed close same-zone pairs, the same for same-node pairs,
      // created same-node pairs, orphan ? 0 : 1, -donor excess, p). With one zone the first term is always 0.
      const receiverZone = zoneOfMember[receiver]!
      let best = -1
      let bestZoneNet = 0
      let bestNet = 0
      let bestAdded = 0
      let bestKind = 0
      let bestExcess = 0
      for (let p = 0; p < q; p++) {
        const from = owners[p]!
        const excess = from < 0 ? 0 : counts[from]! - targets[from]!
        if (from >= 0 && excess <= 0) continue
        const zoneNet = zoneReach === 0 || (from >= 0 && zoneOfMember[from] === receiverZone)
          ? 0
          : zoneConflicts(p, receiverZone) - (from < 0 ? 0 : zoneConflicts(p, zoneOfMember[from]!))
        const added = conflicts(p, receiver)
        const net = added - (from < 0 ? 0 : conflicts(p, from))
        const kind = from < 0 ? 0 : 1
        // < 0 when this candidate is better; ties keep the earlier (lower) partition.
        const order = (zoneNet - bestZoneNet) || (net - bestNet) || (added - bestAdded) || (kind - bestKind) || (bestExcess - excess)
        if (best >= 0 && order >= 0) continue
        best = p
        bestZoneNet = zoneNet
        bestNet = net
        bestAdded = added
        bestKind = kind
        bestExcess = excess
      }
      const from = owners[best]!
      if (from >= 0) counts[from]!--
      owners[best] = receiver
      counts[receiver]!++
    }
    return new Ring(Array.from(owners, i => sorted[i]!.id), zoneMap(sorted))
  }

  /** The node owning partition p (0 <= p < Q). */
  ownerOf (p: number): string {
    assertPartition(p, this.partitionCount)
    return this.#owners[p]!
  }

  /** The owner of every partition, index = partition. */
  owners (): readonly string[] {
    return this.#owners
  }

  /** The distinct owning nodes, sorted by id. */
  nodes (): string[] {
    return [...new Set(this.#owners)].sort(byId)
  }

  /** The zone of an owning node (undefined for a node that owns nothing). */
  zoneOf (node: string): string | undefined {
    return this.#zones.get(node)
  }

  /** The zones of the owning nodes, sorted, with how many owning nodes each has. */
  zones (): ReadonlyMap<string, number> {
    return this.#zoneSizes
  }

  /** The partitions `node` owns, ascending (empty if it owns none). */
  partitionsOf (node: string): number[] {
    const mine: number[] = []
    this.#owners.forEach((o, p) => { if (o === node) mine.push(p) })
    return mine
  }

  /** How many partitions each owning node has. */
  shares (): Map<string, number> {
    const shares = new Map<string, number>()
    for (const o of this.#owners) shares.set(o, (shares.get(o) ?? 0) + 1)
    return shares
  }

  /** The partition of this ring that holds a key. */
  partitionOf (key: Uint8Array | string): number {
    return partitionOf(key, this.partitionCount)
  }

  /** Every distinct node in ring order, starting with the owner of partition p and going clockwise. */
  walk (p: number): string[] {
    return this.#distinctFrom(p, Infinity)
  }

  /**
   * The preference list of partition p: n distinct nodes in as many distinct zones as the ring has
   * (Cassandra's NetworkTopologyStrategy walk). Going clockwise from p (p's owner first), a node is
   * taken in rounds: round k takes the k-th node met of each zone, in walk order, so the first
   * min(n, Z) nodes are in distinct zones and with fewer zones than n each zone holds
   * floor(n/Z) or ceil(n/Z) of them (fewer only when a zone has too few nodes). With one zone this
   * is the plain walk: the next n distinct owners. Shorter than n if the ring has fewer nodes.
   */
  preferenceList (p: number, n: number): string[] {
    assertReplicaCount(n)
    if (this.#zoneSizes.size <= 1) return this.#distinctFrom(p, n)
    assertPartition(p, this.partitionCount)
    const want = Math.min(n, this.#zones.size)
    const level = this.#level(want)
    // Walk until every zone has shown min(level, its size) nodes: then every node of round <= level is known.
    let missing = 0
    for (const size of this.#zoneSizes.values()) missing += Math.min(level, size)
    const met = new Map<string, number>()
    const seen = new Set<string>()
    const candidates: Array<{ node: string, round: number, order: number }> = []
    const q = this.partitionCount
    for (let i = 0; i < q && missing > 0; i++) {
      const owner = this.#owners[(p + i) % q]!
      if (seen.has(owner)) continue
      seen.add(owner)
      const zone = this.#zones.get(owner)!
      const round = (met.get(zone) ?? 0) + 1
      met.set(zone, round)
      if (round <= level) { candidates.push({ node: owner, round, order: candidates.length }); missing-- }
    }
    candidates.sort((a, b) => (a.round - b.round) || (a.order - b.order))
    return candidates.slice(0, want).map(c => c.node)
  }

  /**
   * Sloppy quorum (Dynamo 4.6): the n primaries of p's preference list, each down one replaced by a
   * fallback keeping the replica as a hint for it. Fallbacks are the other nodes up, in walk order
   * from p; a down primary takes the first one of another zone than its own (its zone may be down as
   * a whole), else the first one left. Shorter than n when not enough nodes are up.
   */
  sloppyTargets (p: number, n: number, isUp: (node: string) => boolean): SloppyTarget[] {
    const primaries = this.preferenceList(p, n)
    const fallbacks = this.walk(p).filter(node => !primaries.includes(node) && isUp(node))
    const targets: SloppyTarget[] = []
    for (const primary of primaries) {
      if (isUp(primary)) { targets.push({ node: primary }); continue }
      const i = pickFallback(fallbacks, this.#zones.get(primary), (node) => this.#zones.get(node))
      if (i >= 0) targets.push({ node: fallbacks.splice(i, 1)[0]!, hintFor: primary })
    }
    return targets
  }

  /** True when both rings have the same partition count, owners and zones. */
  equals (other: Ring): boolean {
    return this.partitionCount === other.partitionCount && this.#owners.every((o, p) => other.#owners[p] === o) &&
      [...this.#zones].every(([node, zone]) => other.#zones.get(node) === zone)
  }

  /** A hex SHA-1 of the assignment: equal digests mean equal rings (cheap to compare in gossip). */
  digest (): string {
    this.#digest ??= createHash('sha1').update(JSON.stringify(this.toJSON())).digest('hex')
    return this.#digest
  }

  /** The compact, JSON-safe form, read back by Ring.fromJSON. */
  toJSON (): RingJSON {
    const nodes = this.nodes()
    const index = new Map(nodes.map((n, i) => [n, i]))
    const owners = this.#owners.map(o => index.get(o)!)
    const zones = nodes.map(n => this.#zones.get(n)!)
    // A ring without zones keeps the form (and digest) it has always had.
    if (zones.every(z => z === DEFAULT_ZONE)) return { partitionCount: this.partitionCount, nodes, owners }
    return { partitionCount: this.partitionCount, nodes, owners, zones }
  }

  /** The smallest round L with sum over zones of min(L, zone size) >= want: how deep a preference list of `want` goes. */
  #level (want: number): number {
    let level = this.#levels.get(want)
    if (level === undefined) {
      level = 1
      const covered = (l: number): number => [...this.#zoneSizes.values()].reduce((sum, size) => sum + Math.min(l, size), 0)
      while (covered(level) < want) level++
      this.#levels.set(want, level)
    }
    return level
  }

  #distinctFrom (p: number, n: number): string[] {
    assertPartition(p, this.partitionCount)
    const q = this.partitionCount
    const seen = new Set<string>()
    const list: string[] = []
    for (let i = 0; i < q && list.length < n; i++) {
      const owner = this.#owners[(p + i) % q]!
      if (!seen.has(owner)) { seen.add(owner); list.push(owner) }
    }
    return list
  }
}

/** The zone of every member, by id. */
function zoneMap (members: readonly RingMember[]): Map<string, string> {
  return new Map(members.map(m => [m.id, zoneOf(m)]))
}

/**
 * The index in `fallbacks` (up nodes in walk order, none a replica) of the stand-in for a down
 * primary of zone `zone`: the first of another zone, else the first; -1 when there is none.
 */
export function pickFallback (fallbacks: readonly string[], zone: string | undefined, zoneOfNode: (node: string) => string | undefined): number {
  const elsewhere = fallbacks.findIndex(node => zoneOfNode(node) !== zone)
  return elsewhere >= 0 ? elsewhere : fallbacks.length > 0 ? 0 : -1
}
