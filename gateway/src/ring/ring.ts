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

/** A node as the ring sees it: a unique id and a weight (its share relative to the others). */
export interface RingMember {
  readonly id: string
  readonly weight: number
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

/** The ring as gossiped or stored: node ids (sorted) and, per partition, an index into them. */
export interface RingJSON {
  readonly partitionCount: number
  readonly nodes: readonly string[]
  readonly owners: readonly number[]
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

/** An immutable assignment of Q equal partitions to nodes; every method is a pure function of it. */
export class Ring {
  /** Q: the number of equal partitions, a power of two. */
  readonly partitionCount: number
  readonly #owners: readonly string[]
  #digest: string | undefined

  private constructor (owners: readonly string[]) {
    this.partitionCount = owners.length
    this.#owners = owners
  }

  /** A ring built from scratch for these members: balanced by weight, dealt round-robin; same members, same ring. */
  static create (members: readonly RingMember[], options: RingOptions = {}): Ring {
    const q = options.partitionCount ?? DEFAULT_PARTITION_COUNT
    assertPartitionCount(q)
    validSpacing(options.spacing)
    const sorted = validMembers(members)
    const targets = ownershipTargets(sorted, q, new Map())
    const dealt = sorted.filter(m => (targets.get(m.id) ?? 0) > 0)
    const target = dealt.map(m => targets.get(m.id) ?? 0)
    const credit = dealt.map(() => 0)
    const owners: string[] = []
    // Smooth weighted round robin over one cycle of Q picks gives each member exactly its target, interleaved.
    for (let p = 0; p < q; p++) {
      let best = 0
      for (let i = 0; i < dealt.length; i++) {
        credit[i]! += target[i]!
        if (credit[i]! > credit[best]!) best = i
      }
      credit[best]! -= q
      owners.push(dealt[best]!.id)
    }
    return new Ring(owners)
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
    return new Ring(owners)
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
    const targetOf = ownershipTargets(sorted, q, new Map(sorted.map((m, i) => [m.id, counts[i]!])))
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

    for (;;) {
      let receiver = -1
      let deficit = 0
      for (let i = 0; i < sorted.length; i++) {
        const d = targets[i]! - counts[i]!
        if (d > deficit) { deficit = d; receiver = i }
      }
      if (receiver < 0) break
      // Sum(targets) = Q, so while someone is under target an orphan or an over-target partition exists.
      // Score, smaller is better: (created - removed close pairs, created, orphan ? 0 : 1, -donor excess, p).
      let best = -1
      let bestNet = 0
      let bestAdded = 0
      let bestKind = 0
      let bestExcess = 0
      for (let p = 0; p < q; p++) {
        const from = owners[p]!
        const excess = from < 0 ? 0 : counts[from]! - targets[from]!
        if (from >= 0 && excess <= 0) continue
        const added = conflicts(p, receiver)
        const net = added - (from < 0 ? 0 : conflicts(p, from))
        const kind = from < 0 ? 0 : 1
        // < 0 when this candidate is better; ties keep the earlier (lower) partition.
        const order = (net - bestNet) || (added - bestAdded) || (kind - bestKind) || (bestExcess - excess)
        if (best >= 0 && order >= 0) continue
        best = p
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
    return new Ring(Array.from(owners, i => sorted[i]!.id))
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
   * The preference list of partition p: the owners of the next partitions clockwise from p (p
   * first), skipping nodes already listed, until n distinct nodes; shorter if the ring has fewer.
   */
  preferenceList (p: number, n: number): string[] {
    assertReplicaCount(n)
    return this.#distinctFrom(p, n)
  }

  /**
   * Sloppy quorum (Dynamo 4.6): the first n healthy nodes of the walk from p. Each up primary serves
   * itself; each down primary is replaced, in order, by the next up node past the n primaries, which
   * keeps the replica as a hint for it. Shorter than n when not enough nodes are up.
   */
  sloppyTargets (p: number, n: number, isUp: (node: string) => boolean): SloppyTarget[] {
    assertReplicaCount(n)
    const walk = this.walk(p)
    const primaries = walk.slice(0, n)
    const fallbacks = walk.slice(n).filter(node => isUp(node))
    const targets: SloppyTarget[] = []
    let next = 0
    for (const primary of primaries) {
      if (isUp(primary)) targets.push({ node: primary })
      else if (next < fallbacks.length) targets.push({ node: fallbacks[next++]!, hintFor: primary })
    }
    return targets
  }

  /** True when both rings have the same partition count and owners. */
  equals (other: Ring): boolean {
    return this.partitionCount === other.partitionCount && this.#owners.every((o, p) => other.#owners[p] === o)
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
    return { partitionCount: this.partitionCount, nodes, owners: this.#owners.map(o => index.get(o)!) }
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
