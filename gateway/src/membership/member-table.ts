/**
 * The gossip membership table: what this node believes about every member, and the merge that
 * makes all tables converge (Cassandra's gossiper, reduced to what levelring needs).
 *
 * An entry's state is owned by its member: only it bumps its heartbeat (every gossip round) and,
 * when its address, weight or status changes, its version. An administrator may also change another
 * member's status (force a dead node out), which bumps that entry's version from wherever it is seen.
 *
 * Merge is a join (commutative, associative, idempotent), so tables converge whatever order and
 * however often gossip delivers entries:
 *  - a higher generation (the member restarted; generation = its start time) replaces the entry;
 *  - within a generation the heartbeat is the larger one, and the state (address, weight, status)
 *    is the one with the larger (version, status rank, weight, address): concurrent changes at the
 *    same version resolve the same way everywhere, the later lifecycle status winning.
 *
 * "Down" is not gossiped: it is each node's local opinion from its failure detector (phi-accrual.ts),
 * fed by the heartbeat advances merge() reports. A `left` entry stays as a tombstone so stale gossip
 * cannot bring the member back; a later generation of the same id may rejoin.
 *
 * Gossip exchange (push-pull, three messages like Cassandra's SYN/ACK/ACK2):
 *   A -> B  digest()                      ids with (generation, version, status, heartbeat)
 *   B -> A  deltaFor(digests)             B's entries newer than A's, and the ids B wants
 *   A -> B  entriesFor(delta.requests)    A's entries for those ids
 * each side merge()s what it receives.
 */
import { GatewayError } from '../error/gateway-error.js'
import { assertZoneName } from '../ring/ring.js'

/** Lifecycle of a member: joining (receiving its partitions), up, leaving (handing them off), left (gone for good). */
export type MemberStatus = 'joining' | 'up' | 'leaving' | 'left'

/** Later lifecycle statuses win ties: a leave cannot be undone by a concurrent "up" at the same version. */
const STATUS_RANK: Readonly<Record<MemberStatus, number>> = { joining: 0, up: 1, leaving: 2, left: 3 }

/** One member as gossiped. */
export interface MemberEntry {
  readonly id: string
  /** Where its internode endpoint listens (host:port). */
  readonly address: string
  /** Restart epoch (its start time in ms): a larger generation is a newer incarnation. */
  readonly generation: number
  /** Bumped by the member every gossip round; it advancing is what "alive" means. */
  readonly heartbeat: number
  /** Bumped on every change of address, weight or status. */
  readonly version: number
  readonly status: MemberStatus
  /** Relative share of partitions (ring.ts). */
  readonly weight: number
  /** Its zone (ring.ts; absent: DEFAULT_ZONE). Set when the member starts, so it changes only with its generation. */
  readonly zone?: string
}

/** What a gossip digest says about one entry: enough to tell which side is newer. */
export interface MemberDigest {
  readonly id: string
  readonly generation: number
  readonly version: number
  readonly status: MemberStatus
  readonly heartbeat: number
}

/** A reply to a digest: entries the digest's sender lacks or holds older, and ids to send back. */
export interface GossipDelta {
  readonly entries: readonly MemberEntry[]
  readonly requests: readonly string[]
}

/** What a merge changed, for the failure detector and the ring. Ids sorted. */
export interface MergeOutcome {
  /** Members seen for the first time. */
  readonly added: readonly string[]
  /** Members now at a higher generation: restarted; reset their failure detector. */
  readonly restarted: readonly string[]
  /** Members whose heartbeat advanced (includes added and restarted): record a heartbeat arrival. */
  readonly heartbeatAdvanced: readonly string[]
  /** Members whose address, weight or status changed (includes added and restarted, and this node when an administrator changed its status): the ring may need recomputing. */
  readonly stateChanged: readonly string[]
  /** Someone gossips this node's own id at a higher generation: another process uses this id, or this one restarted with a clock behind its last run. */
  readonly selfSuperseded: boolean
}

/** Who this node is, to start a table: its entry's identity; weight and status have defaults. */
type SelfEntry = Pick<MemberEntry, 'id' | 'address' | 'generation'> & Partial<Pick<MemberEntry, 'weight' | 'status' | 'zone'>>

/** A uniform random number in [0, 1), injectable so simulations are reproducible. */
export type RandomSource = () => number

function byId (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Orders the state part of two entries of the same generation: > 0 when a is newer. */
function compareState (a: MemberEntry, b: MemberEntry): number {
  return (a.version - b.version) ||
    (STATUS_RANK[a.status] - STATUS_RANK[b.status]) ||
    (a.weight - b.weight) ||
    byId(a.address, b.address)
}

function sameState (a: MemberEntry, b: MemberEntry): boolean {
  return a.status === b.status && a.address === b.address && a.weight === b.weight
}

/** Throws CLUSTER_INVALID_MEMBER unless the entry is well-formed (for entries received from peers). */
export function assertMemberEntry (e: MemberEntry): void {
  const bad = (why: string): never => {
    throw new GatewayError('CLUSTER_INVALID_MEMBER', `gossiped member ${JSON.stringify((e as { id?: unknown } | null)?.id)} rejected: ${why}`)
  }
  if (e === null || typeof e !== 'object') bad('not an object')
  if (typeof e.id !== 'string' || e.id.length === 0) bad('id must be a non-empty string')
  if (typeof e.address !== 'string' || e.address.length === 0) bad('address must be a non-empty string')
  for (const field of ['generation', 'heartbeat', 'version'] as const) {
    if (!Number.isSafeInteger(e[field]) || e[field] < 0) bad(`${field} must be a non-negative integer`)
  }
  if (!Number.isSafeInteger(e.weight) || e.weight < 1) bad('weight must be a positive integer')
  if (!Object.hasOwn(STATUS_RANK, e.status)) bad(`status must be one of ${Object.keys(STATUS_RANK).join(', ')}`)
  if (e.zone !== undefined) {
    try { assertZoneName(e.zone) } catch (err) { bad((err as Error).message) }
  }
}

/** Throws CLUSTER_INVALID_MEMBER unless the digest is well-formed. */
export function assertMemberDigest (d: MemberDigest): void {
  const ok = d !== null && typeof d === 'object' && typeof d.id === 'string' && d.id.length > 0 &&
    [d.generation, d.version, d.heartbeat].every(v => Number.isSafeInteger(v) && v >= 0) &&
    Object.hasOwn(STATUS_RANK, d.status)
  if (!ok) {
    throw new GatewayError('CLUSTER_INVALID_MEMBER', `gossip digest ${JSON.stringify(d)} rejected: needs id, generation, version, heartbeat (non-negative integers) and a known status`)
  }
}

/** A copy holding exactly the entry's fields, so nothing else a peer sent is kept or gossiped on. */
function ownEntry (e: MemberEntry): MemberEntry {
  const own = { id: e.id, address: e.address, generation: e.generation, heartbeat: e.heartbeat, version: e.version, status: e.status, weight: e.weight }
  return e.zone === undefined ? own : { ...own, zone: e.zone }
}

/** This node's membership table. Not thread-safe by design: one event loop owns it. */
export class MemberTable {
  /** This node's id. */
  readonly selfId: string
  readonly #entries = new Map<string, MemberEntry>()

  constructor (self: SelfEntry) {
    const entry: MemberEntry = {
      id: self.id,
      address: self.address,
      generation: self.generation,
      heartbeat: 0,
      version: 0,
      status: self.status ?? 'joining',
      weight: self.weight ?? 1,
      ...(self.zone === undefined ? {} : { zone: self.zone })
    }
    assertMemberEntry(entry)
    this.selfId = self.id
    this.#entries.set(self.id, entry)
  }

  /** This node's own entry. */
  get self (): MemberEntry {
    return this.#entries.get(this.selfId)!
  }

  /** The entry for `id`, or undefined if unknown. */
  get (id: string): MemberEntry | undefined {
    return this.#entries.get(id)
  }

  /** Every known entry (including left tombstones), sorted by id. */
  entries (): MemberEntry[] {
    return [...this.#entries.values()].sort((a, b) => byId(a.id, b.id))
  }

  /** Starts a gossip round: bumps this node's heartbeat. */
  tick (): void {
    const self = this.self
    this.#entries.set(self.id, { ...self, heartbeat: self.heartbeat + 1 })
  }

  /** Changes this node's own address, weight or status; bumps its version if anything changed. */
  updateSelf (change: { address?: string, weight?: number, status?: MemberStatus }): MemberEntry {
    return this.#change(this.self, change)
  }

  /**
   * An administrative status change of any known member (e.g. `left` for a node that will never
   * come back). Bumps the entry's version so the change wins over what others hold.
   */
  setStatus (id: string, status: MemberStatus): MemberEntry {
    const entry = this.#entries.get(id)
    if (entry === undefined) {
      throw new GatewayError('CLUSTER_INVALID_MEMBER', `no member ${id} in this node's table; check the id with GET /v1/cluster`)
    }
    return this.#change(entry, { status })
  }

  /** The digest of every entry, sorted by id: the first message of a gossip exchange. */
  digest (): MemberDigest[] {
    return this.entries().map(({ id, generation, version, status, heartbeat }) => ({ id, generation, version, status, heartbeat }))
  }

  /** Given a peer's digest: our entries it lacks or holds older, and the ids it holds newer or we lack. */
  deltaFor (remote: readonly MemberDigest[]): GossipDelta {
    for (const d of remote) assertMemberDigest(d)
    const theirs = new Map(remote.map(d => [d.id, d]))
    const entries: MemberEntry[] = []
    const requests: string[] = []
    for (const mine of this.entries()) {
      const d = theirs.get(mine.id)
      if (d === undefined || newerThanDigest(mine, d)) entries.push(mine)
    }
    for (const d of remote) {
      const mine = this.#entries.get(d.id)
      if (mine === undefined || digestNewer(d, mine)) requests.push(d.id)
    }
    return { entries, requests: requests.sort(byId) }
  }

  /** Our entries for the given ids (unknown ids are skipped): the last message of an exchange. */
  entriesFor (ids: readonly string[]): MemberEntry[] {
    return ids.flatMap(id => {
      const e = this.#entries.get(id)
      return e === undefined ? [] : [e]
    })
  }

  /** Merges entries from a peer (validating each); reports what changed. */
  merge (remote: readonly MemberEntry[]): MergeOutcome {
    const added = new Set<string>()
    const restarted = new Set<string>()
    const advanced = new Set<string>()
    const changed = new Set<string>()
    let selfSuperseded = false
    // All or nothing: a malformed entry leaves the table untouched.
    for (const e of remote) assertMemberEntry(e)
    for (const wire of remote) {
      const incoming = ownEntry(wire)
      const local = this.#entries.get(incoming.id)
      if (incoming.id === this.selfId) {
        // Our own entry: only adopt an administrative status change made at our generation.
        if (local === undefined) continue
        if (incoming.generation > local.generation) selfSuperseded = true
        else if (incoming.generation === local.generation && compareState(incoming, local) > 0) {
          this.#entries.set(local.id, { ...local, status: incoming.status, version: incoming.version })
          if (incoming.status !== local.status) changed.add(local.id)
        }
        continue
      }
      if (local === undefined || incoming.generation > local.generation) {
        this.#entries.set(incoming.id, incoming)
        ;(local === undefined ? added : restarted).add(incoming.id)
        advanced.add(incoming.id)
        changed.add(incoming.id)
        continue
      }
      if (incoming.generation < local.generation) continue
      const state = compareState(incoming, local) > 0 ? incoming : local
      const heartbeat = Math.max(incoming.heartbeat, local.heartbeat)
      if (heartbeat > local.heartbeat) advanced.add(local.id)
      if (!sameState(state, local)) changed.add(local.id)
      if (state !== local || heartbeat !== local.heartbeat) {
        this.#entries.set(local.id, { ...state, heartbeat })
      }
    }
    const sorted = (s: Set<string>): string[] => [...s].sort(byId)
    return { added: sorted(added), restarted: sorted(restarted), heartbeatAdvanced: sorted(advanced), stateChanged: sorted(changed), selfSuperseded }
  }

  /**
   * Up to k distinct peers for this round, chosen uniformly by `random` among members other than
   * this node that have not left and that `eligible` accepts (default: all).
   */
  choosePeers (k: number, random: RandomSource = Math.random, eligible: (e: MemberEntry) => boolean = () => true): MemberEntry[] {
    if (!Number.isInteger(k) || k < 0) {
      throw new GatewayError('CLUSTER_INVALID_OPTION', `gossip fan-out k=${String(k)} must be a non-negative integer`)
    }
    const pool = this.entries().filter(e => e.id !== this.selfId && e.status !== 'left' && eligible(e))
    // Partial Fisher-Yates: the first k slots end up a uniform sample without replacement.
    const picks = Math.min(k, pool.length)
    for (let i = 0; i < picks; i++) {
      const j = i + Math.floor(random() * (pool.length - i))
      const t = pool[i]!
      pool[i] = pool[j]!
      pool[j] = t
    }
    return pool.slice(0, picks)
  }

  #change (entry: MemberEntry, change: { address?: string, weight?: number, status?: MemberStatus }): MemberEntry {
    const next: MemberEntry = {
      ...entry,
      address: change.address ?? entry.address,
      weight: change.weight ?? entry.weight,
      status: change.status ?? entry.status
    }
    if (sameState(next, entry)) return entry
    const bumped = { ...next, version: entry.version + 1 }
    assertMemberEntry(bumped)
    this.#entries.set(entry.id, bumped)
    return bumped
  }
}

/** Orders the state part of an entry and a digest of the same generation: > 0 when the entry's is newer. */
function compareDigestState (mine: MemberEntry, theirs: MemberDigest): number {
  return (mine.version - theirs.version) || (STATUS_RANK[mine.status] - STATUS_RANK[theirs.status])
}

/** Our entry carries something the digest's holder lacks: a newer generation, state or heartbeat. */
function newerThanDigest (mine: MemberEntry, theirs: MemberDigest): boolean {
  if (mine.generation !== theirs.generation) return mine.generation > theirs.generation
  return compareDigestState(mine, theirs) > 0 || mine.heartbeat > theirs.heartbeat
}

/** The digest's holder has something we lack (both this and newerThanDigest can hold at once). */
function digestNewer (theirs: MemberDigest, mine: MemberEntry): boolean {
  if (mine.generation !== theirs.generation) return theirs.generation > mine.generation
  return compareDigestState(mine, theirs) < 0 || theirs.heartbeat > mine.heartbeat
}
