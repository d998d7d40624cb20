import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import type { Liveness, PeerState } from './liveness.js'
import type { Member } from './member.js'
import { MemberTable, type MemberDigest, type MemberEntry, type MemberStatus, type MergeOutcome } from './member-table.js'
import { PhiAccrualDetector, type PhiAccrualOptions } from './phi-accrual.js'
import type { Ring, RingMember } from '../ring/ring.js'
import { GatewayError } from '../error/gateway-error.js'
import { claim } from '../ring/ring-claimant.js'
import { compareRingStates, mergeRingStates, withDone, type RingState } from '../ring/ring-state.js'

/** A member known before any gossip: from --peers or the node's stored state. Seeded at generation 0, so any real entry replaces it. */
export interface StoredMember extends Member {
  readonly status: MemberStatus
}

export interface MembershipOptions {
  readonly self: {
    readonly id: string
    readonly address: string
    readonly weight: number
    /** Its zone (ring.ts), gossiped with its entry; absent: DEFAULT_ZONE. */
    readonly zone?: string
    readonly generation: number
    readonly status: MemberStatus
  }
  /** Members known before gossip (never this node). */
  readonly seeds: readonly StoredMember[]
  /** The ring state the node starts with: stored, or the bootstrap ring of --peers; undefined for a node joining through seeds. */
  readonly ringState: RingState | undefined
  /** Replication factor n: the claimant promotes a pending ring once every node gaining replicas of it has them. */
  readonly replicas: number
  readonly phi: PhiAccrualOptions
  /**
   * A member never heard from since this node started counts as up (worth trying) for this long,
   * then as down: a configured peer that never starts must not hold writes forever.
   */
  readonly unheardGraceMs: number
  readonly logger: Logger
  /**
   * When a connection to the member was last refused (ms since epoch; internode/internode-client.ts
   * reports it): nothing listens there, so it is down at once until its heartbeat advances again.
   */
  readonly refusedAt?: (id: string) => number | undefined
  /**
   * How often this node runs at the least (its gossip interval), ms. When two of its own calls are
   * more than twice this apart, the node itself was paused (SIGSTOP, a long GC, a blocked event
   * loop) and heard nothing meanwhile: the detectors discount the pause (all but one interval)
   * instead of taking every peer for down on waking. Undefined: no such check (simulated clocks
   * that jump).
   */
  readonly activityIntervalMs?: number
  /** Monotonic ms (performance.now by default); tests may drive it. */
  readonly now?: () => number
}

/** What a gossip message says about the sender's ring state: enough to tell who is newer. */
export interface RingSummary {
  readonly epoch: number
  readonly digest: string
  readonly done: readonly string[]
}

/** A change of this node's verdict on a member: it went down or came back up. */
export interface LivenessChange {
  readonly id: string
  readonly up: boolean
  readonly phi: number
}

/** A table entry as a Member (its zone only when it names one). */
function asMember ({ id, address, weight, zone }: MemberEntry): Member {
  return zone === undefined ? { id, address, weight } : { id, address, weight, zone }
}

/** The statuses that own partitions: a joining member is given its share, a leaving one gives its share away. */
const OWNING: ReadonlySet<MemberStatus> = new Set(['joining', 'up'])

/**
 * The cluster's membership: the gossip table (member-table.ts), one phi-accrual detector per member
 * fed by the heartbeat advances gossip brings, and the agreed ring state (ring-state.ts). It is what
 * the coordinator routes by and its Liveness.
 *
 * Contract: `members()`, `member()` and `ring()` always describe one and the same membership (a
 * listener never sees the ring of one and the members of another); every ring owner is a member;
 * `onChange` listeners run after a change is visible through the getters.
 *
 * Up or down is this node's own opinion (never gossiped): a member is up while its detector's phi
 * is under the threshold; a member of a new generation (it restarted) gets a fresh detector and is
 * up at once. A refused connection (nothing listens at its address: it crashed or stopped) takes a
 * member down at once, until gossip shows its heartbeat advancing again; a slow answer does not
 * (a slow node must not flap). Members never heard from since this node started count as up (try them) for
 * `unheardGraceMs`, then as down.
 *
 * The ring only changes through the claim step (ring-claimant.ts) run by the claimant: the up
 * member with the lowest id that this node believes alive. Down members keep their partitions:
 * a failure is transient (sloppy quorum and hints cover it); only join and leave move partitions.
 */
export class Membership implements Liveness {
  readonly selfId: string
  readonly #options: MembershipOptions
  readonly #clockNow: () => number
  #startedAt: number
  /** When this node last ran any membership call (monotonic ms), to notice its own pauses. */
  #lastActive: number
  #table: MemberTable
  readonly #detectors = new Map<string, PhiAccrualDetector>()
  /** Wall-clock ms of the last heartbeat advance per member, for lastSeen. */
  readonly #heardAt = new Map<string, number>()
  /** The last verdict reported by livenessChanges(). */
  readonly #verdicts = new Map<string, boolean>()
  readonly #listeners = new Set<() => void>()
  #ring: RingState | undefined

  constructor (options: MembershipOptions) {
    this.#options = options
    this.#clockNow = options.now ?? (() => performance.now())
    this.#startedAt = this.#clockNow()
    this.#lastActive = this.#startedAt
    this.selfId = options.self.id
    this.#table = new MemberTable({ ...options.self })
    this.#table.merge(options.seeds.filter((s) => s.id !== this.selfId).map((s) => ({
      id: s.id, address: s.address, weight: s.weight, status: s.status, generation: 0, heartbeat: 0, version: 0
    })))
    this.#ring = options.ringState
  }

  // ---- members and ring ----

  members (): readonly Member[] {
    const named = this.#ringNodes()
    return this.#table.entries()
      .filter((e) => e.status !== 'left' || named.has(e.id))
      .map(asMember)
  }

  member (id: string): Member | undefined {
    const e = this.#table.get(id)
    return e === undefined ? undefined : asMember(e)
  }

  /** The current ring; a 503 (naming this node) while it has none: it is joining and has not heard from a seed yet. */
  ring (): Ring {
    if (this.#ring === undefined) {
      throw new GatewayError('LEVELRING_QUORUM_UNAVAILABLE',
        `node ${this.selfId} has not received the cluster's ring yet (it is joining through its seeds); retry shortly or send the request to another member`,
        { needed: 1, answered: 0 })
    }
    return this.#ring.current.ring
  }

  onChange (listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  // ---- Liveness ----

  isUp (id: string): boolean {
    if (id === this.selfId) return true
    const entry = this.#table.get(id)
    if (entry?.status === 'left') return false
    const refused = this.#options.refusedAt?.(id)
    if (refused !== undefined && refused >= (this.#heardAt.get(id) ?? 0)) return false
    const detector = this.#detectors.get(id)
    if (detector === undefined) return this.#now() - this.#startedAt < this.#options.unheardGraceMs
    return detector.isAvailable(this.#now())
  }

  state (id: string): PeerState {
    if (id === this.selfId) return 'up'
    const up = this.isUp(id)
    if (up && !this.#detectors.has(id)) return 'unknown'
    return up ? 'up' : 'down'
  }

  lastSeen (id: string): number | undefined {
    return id === this.selfId ? Date.now() : this.#heardAt.get(id)
  }

  /** The member's current suspicion level (0 for this node and members never heard from). */
  phi (id: string): number {
    return this.#detectors.get(id)?.phi(this.#now()) ?? 0
  }

  /** Verdicts that changed since the last call (for logging when a member goes down or comes back). */
  livenessChanges (): LivenessChange[] {
    const changes: LivenessChange[] = []
    for (const e of this.#table.entries()) {
      if (e.id === this.selfId || !this.#detectors.has(e.id)) continue
      const up = this.isUp(e.id)
      if (this.#verdicts.get(e.id) !== up) {
        if (this.#verdicts.has(e.id) || !up) changes.push({ id: e.id, up, phi: this.phi(e.id) })
        this.#verdicts.set(e.id, up)
      }
    }
    return changes
  }

  // ---- the table ----

  /** This node's own entry. */
  get self (): MemberEntry {
    return this.#table.self
  }

  /** Every entry, left ones included, sorted by id. */
  entries (): MemberEntry[] {
    return this.#table.entries()
  }

  /** The entry for `id`. */
  entry (id: string): MemberEntry | undefined {
    return this.#table.get(id)
  }

  /** The member whose internode address is `address`, if any. */
  memberAt (address: string): MemberEntry | undefined {
    return this.#table.entries().find((e) => e.address === address && e.id !== this.selfId)
  }

  /** Members that own partitions (joining or up), with their weights and zones, sorted by id. */
  owners (): RingMember[] {
    return this.#table.entries().filter((e) => OWNING.has(e.status)).map(({ id, weight, zone }) => zone === undefined ? { id, weight } : { id, weight, zone })
  }

  /** Starts a gossip round: bumps this node's heartbeat. */
  tick (): void {
    this.#table.tick()
  }

  digest (): MemberDigest[] {
    return this.#table.digest()
  }

  deltaFor (digests: readonly MemberDigest[]): ReturnType<MemberTable['deltaFor']> {
    return this.#table.deltaFor(digests)
  }

  entriesFor (ids: readonly string[]): MemberEntry[] {
    return this.#table.entriesFor(ids)
  }

  /**
   * Merge gossiped entries: heartbeat advances feed the detectors (a new generation resets its
   * detector), and listeners hear of any change of members or their status.
   */
  merge (entries: readonly MemberEntry[]): MergeOutcome {
    const outcome = this.#table.merge(entries)
    const now = this.#now()
    for (const id of outcome.restarted) this.#detectors.delete(id)
    for (const id of outcome.heartbeatAdvanced) {
      let detector = this.#detectors.get(id)
      if (detector === undefined) {
        detector = new PhiAccrualDetector(this.#options.phi)
        this.#detectors.set(id, detector)
      }
      detector.heartbeat(now)
      this.#heardAt.set(id, Date.now())
    }
    for (const id of outcome.restarted) {
      const e = this.#table.get(id)!
      this.#options.logger.info({ peer: id, generation: e.generation, address: e.address }, 'member (re)started: new generation')
    }
    if (outcome.stateChanged.length > 0) this.#changed()
    return outcome
  }

  /**
   * Start over at a higher generation (gossip showed this node's id at a generation at least as
   * high: it restarted with a clock behind its last life, or another process uses its id). The
   * other entries are kept.
   */
  rebase (generation: number): void {
    const self = this.#table.self
    const table = new MemberTable({ id: self.id, address: self.address, weight: self.weight, status: self.status, generation, ...(self.zone === undefined ? {} : { zone: self.zone }) })
    table.merge(this.#table.entries().filter((e) => e.id !== self.id))
    this.#table = table
    this.#changed()
  }

  /** Change this node's own status, address or weight (bumps its version, so gossip spreads it). */
  updateSelf (change: { address?: string, weight?: number, status?: MemberStatus }): void {
    const before = this.#table.self
    const after = this.#table.updateSelf(change)
    if (after !== before) this.#changed()
  }

  /**
   * An administrative status change of another member (`left`: an operator removed a node that
   * will not come back); bumps its entry's version so gossip spreads it and it wins everywhere.
   */
  setMemberStatus (id: string, status: MemberStatus): void {
    const before = this.#table.get(id)
    const after = this.#table.setStatus(id, status)
    if (after !== before) this.#changed()
  }

  // ---- the ring ----

  /** The agreed ring state, or undefined before this node has one (joining). */
  ringState (): RingState | undefined {
    return this.#ring
  }

  /** The ring keys are moving to during a join or leave, if any. */
  pendingRing (): Ring | undefined {
    return this.#ring?.pending?.plan.ring
  }

  /** What gossip messages say about this node's ring state. */
  ringSummary (): RingSummary | undefined {
    const s = this.#ring
    return s === undefined ? undefined : { epoch: s.epoch, digest: s.digest, done: s.pending === undefined ? [] : [...s.pending.done].sort() }
  }

  /** Merge a ring state a peer gossiped (or this node computed); listeners hear when it changed anything. Returns true then. */
  adoptRing (state: RingState): boolean {
    const before = this.#ring
    const next = before === undefined ? state : mergeRingStates(before, state)
    if (next === before) return false
    if (before === undefined || next.epoch !== before.epoch) {
      this.#options.logger.info({
        epoch: next.epoch, digest: next.digest, owners: next.current.members.map((m) => m.id),
        pending: next.pending?.plan.members.map((m) => m.id)
      }, next.pending === undefined ? 'ring: new current ring' : 'ring: partitions moving to a pending ring')
    }
    this.#ring = next
    this.#changed()
    return true
  }

  /** Record that this node holds every replica it gains in the pending ring of `digest` (ignored if that ring is gone). */
  markTransferDone (digest: string): void {
    const s = this.#ring
    if (s?.pending === undefined || s.digest !== digest) return
    this.adoptRing(withDone(s, this.selfId))
  }

  /** True when this node is the claimant: an up member with the lowest id among the up members it believes alive. */
  isClaimant (): boolean {
    if (this.#table.self.status !== 'up') return false
    const first = this.#table.entries().find((e) => e.status === 'up' && this.isUp(e.id))
    return first?.id === this.selfId
  }

  /** Run the claim step if this node is the claimant; true when it produced a new ring state. */
  claimIfClaimant (): boolean {
    if (this.#ring === undefined || !this.isClaimant()) return false
    const next = claim(this.#ring, this.owners(), this.#options.replicas)
    if (next === undefined || compareRingStates(next, this.#ring) <= 0) return false
    return this.adoptRing(next)
  }

  #ringNodes (): Set<string> {
    const s = this.#ring
    if (s === undefined) return new Set()
    return new Set([...s.current.members.map((m) => m.id), ...(s.pending?.plan.members.map((m) => m.id) ?? [])])
  }

  /**
   * The monotonic clock, read by every liveness call. A gap since the previous call of more than
   * twice the activity interval is a pause of this node's own: every detector (and the grace for
   * members never heard from) is moved on by the gap less one interval.
   */
  #now (): number {
    const now = this.#clockNow()
    const interval = this.#options.activityIntervalMs
    const gap = now - this.#lastActive
    this.#lastActive = Math.max(now, this.#lastActive)
    if (interval !== undefined && gap > 2 * interval) {
      const paused = gap - interval
      for (const detector of this.#detectors.values()) detector.pause(paused)
      this.#startedAt += paused
      this.#options.logger.warn({ pausedMs: Math.round(paused) },
        'this node did not run for a while (stopped, a long GC or a blocked event loop): its failure detectors discount the pause')
    }
    return now
  }

  #changed (): void {
    for (const listener of this.#listeners) {
      try {
        listener()
      } catch (err) {
        this.#options.logger.error({ err }, 'a membership listener threw; it must not')
      }
    }
  }
}
