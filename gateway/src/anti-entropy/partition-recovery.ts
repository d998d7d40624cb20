import type { Logger } from 'pino'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { GatewayError } from '../error/gateway-error.js'
import type { InternodeExtension } from '../internode/internode-routes.js'
import type { Membership } from '../membership/membership.js'
import { durable, type TextSpace } from '../replica/node-storage.js'
import { partitionOf } from '../ring/partition.js'
import type { Ring } from '../ring/ring.js'

/** Metadata key of the recovery state; absent once every partition is current. */
const RECOVERY_KEY = 'recovery'

/**
 * Metadata key prefix of the range restore's cursors: RESTORE_CURSOR_PREFIX + partition -> JSON
 * RestoreCursor. Written (fsynced, after the page's merges) once per page pulled, so a restart
 * resumes after the last key held; removed once every partition is current.
 */
export const RESTORE_CURSOR_PREFIX = 'restore-cursor/'

/** How far a partition's range restore got: `after` the last key merged, or `done` once whole. */
interface RestoreCursor {
  readonly after?: string
  readonly done?: true
}

/** Metadata key of the first generation this node heard of each other member (JSON id -> generation). */
const HEARD_KEY = 'heard-generations'

/** Internode endpoint a node with an empty data directory asks: "did you know me before?" */
export const RECOVERY_PATH = '/internal/v1/recovery/known'

/** Largest body of a probe: {"member": id, "generation": n}. */
export const RECOVERY_BODY_LIMIT = 4096

/** How often a probing node asks its peers again (ms). */
export const PROBE_INTERVAL_MS = 1_000

/** Timeout of one probe call (ms). */
const PROBE_TIMEOUT_MS = 2_000

/**
 * Whether this node's replicas can be trusted to hold every write they acknowledged:
 *
 *   current     nothing lost: a "not found" here is authoritative.
 *   probing     the data directory was empty at start: until peers say whether this node id lived
 *               before (it did: its data was lost) or not (a new member), nothing here is trusted.
 *   rebuilding  this node lost its data, or its directory may be behind the writes it acknowledged
 *               (a restored copy, a machine crash): a partition is trusted again once anti-entropy
 *               has found it equal to (or brought it up to) every other replica of it in the current ring.
 */
export type RecoveryState = 'current' | 'probing' | 'rebuilding'

interface Persisted {
  readonly state: 'probing' | 'rebuilding'
  /** Partitions already brought current. */
  readonly done: readonly number[]
  /**
   * The node lost its data directory: each rebuilding partition is first pulled whole, as one range,
   * from one other replica (RangeRestorePlan), and only then compared by anti-entropy.
   */
  readonly byRange?: true
}

/**
 * What anti-entropy needs of a restore by range: which partitions to pull whole before comparing
 * them, and where each pull resumes. A partition pending here answers "not ready" to its peers'
 * root comparisons, so they do not push it key by key meanwhile.
 */
export interface RangeRestorePlan {
  /** True while partition p here is to be pulled whole from a replica before it is compared. */
  pending (p: number): boolean
  /** True when pending partitions may be pulled now. */
  readonly pulling: boolean
  /** True while the node does not know yet whether it lost its data (an empty directory, peers not asked yet). */
  readonly deciding: boolean
  /** Resolves once the node knows whether it lost its data (probing is over), while no other member is up, or after `timeoutMs`. */
  decided (timeoutMs: number): Promise<void>
  /** Where partition p's pull resumes: after this key (undefined: from its first key). */
  cursor (p: number): Promise<string | undefined>
  /** Partition p's pull merged every key up to `after` (fsynced with them), or, with undefined, all of it. */
  advance (p: number, after: string | undefined): Promise<void>
}

export interface PartitionRecoveryOptions {
  readonly meta: TextSpace
  readonly membership: Membership
  readonly replicas: number
  readonly partitionCount: number
  /** True when the data directory held nothing at start (a new member, or one that lost its disk). */
  readonly fresh: boolean
  /**
   * Why the data directory, not empty, may be missing writes it acknowledged (a restored copy, a
   * machine crash: node/actor-epoch.ts); undefined when it cannot be. Every partition starts rebuilding.
   */
  readonly behind?: string
  /** Ask peer `node` (internode POST, JSON) the probe question. */
  readonly post: (node: string, path: string, body: Buffer, mediaType: string, timeoutMs: number) => Promise<Buffer>
  readonly logger: Logger
}

/** What GET /v1/cluster shows of it. */
export interface RecoveryView {
  readonly state: RecoveryState
  /** Partitions this node replicates that are not yet current (0 when current). */
  readonly partitionsRebuilding: number
}

/**
 * Tracks which partitions of this node may be missing acknowledged writes because its data
 * directory was lost, so that its replica answers say so (a "rebuilding" reply) and a coordinator
 * does not count its "not found" as proof of absence (see GetFsm). The state is stored in the
 * node's metadata (fsynced), so a restart in the middle of rebuilding goes on rebuilding.
 */
export class PartitionRecovery implements RangeRestorePlan {
  readonly #options: PartitionRecoveryOptions
  #state: RecoveryState
  readonly #done: Set<number>
  #byRange: boolean
  /** Partitions whose range restore finished (their cursor says done). */
  readonly #pulled: Set<number>
  readonly #decided: Array<() => void> = []
  /** Partition -> peers it was found in sync with since this process started. */
  readonly #synced = new Map<number, Set<string>>()
  /** Member -> the first generation (a real process's, above 0) this node heard gossip of; stored. */
  readonly #heard: Map<string, number>
  #replicatedFor: { ring: Ring, partitions: number[] } | undefined
  #timer: NodeJS.Timeout | undefined
  #probing: Promise<void> | undefined

  private constructor (options: PartitionRecoveryOptions, state: RecoveryState, done: readonly number[], heard: Map<string, number>,
    byRange = false, pulled: Iterable<number> = []) {
    this.#options = options
    this.#state = state
    this.#done = new Set(done)
    this.#heard = heard
    this.#byRange = byRange
    this.#pulled = new Set(pulled)
    options.membership.onChange(() => this.#noteGenerations())
  }

  /** Read the stored state; a fresh directory starts probing (stored first, so a crash keeps it). */
  static async open (options: PartitionRecoveryOptions): Promise<PartitionRecovery> {
    const heardJson = await options.meta.get(HEARD_KEY)
    const heard = new Map<string, number>(Object.entries(heardJson === undefined ? {} : JSON.parse(heardJson) as Record<string, number>))
    const stored = await options.meta.get(RECOVERY_KEY)
    const parsed = stored === undefined ? undefined : JSON.parse(stored) as Persisted
    // A restore by range goes on where its cursors say: they and the keys they cover are in one engine, fsynced together.
    const byRange = parsed?.byRange === true
    const pulled = byRange ? await pulledPartitions(options.meta) : []
    if (options.behind !== undefined && !options.fresh) {
      // Even mid-rebuild: partitions already found current may have gone back with the directory.
      const recovery = new PartitionRecovery(options, 'rebuilding', [], heard, byRange, pulled)
      options.logger.warn({ reason: options.behind }, 'this data directory may be behind the writes it acknowledged: its partitions count as rebuilding ' +
        'until anti-entropy has compared each with every other replica')
      await recovery.#store()
      return recovery
    }
    if (parsed !== undefined) return new PartitionRecovery(options, parsed.state, parsed.done, heard, byRange, pulled)
    const recovery = new PartitionRecovery(options, options.fresh ? 'probing' : 'current', [], heard)
    if (options.fresh) await recovery.#store()
    return recovery
  }

  get state (): RecoveryState {
    return this.#state
  }

  /** True when this node's answer for `key` may be missing acknowledged writes. */
  rebuildingKey (key: string): boolean {
    if (this.#state === 'current') return false
    return this.rebuilding(partitionOf(key, this.#options.partitionCount))
  }

  /** True when partition `p` here may be missing acknowledged writes. */
  rebuilding (p: number): boolean {
    if (this.#state === 'probing') return true
    return this.#state === 'rebuilding' && !this.#done.has(p)
  }

  pending (p: number): boolean {
    return this.#byRange && this.rebuilding(p) && !this.#pulled.has(p)
  }

  get pulling (): boolean {
    return this.#state === 'rebuilding' && this.#byRange
  }

  get deciding (): boolean {
    return this.#state === 'probing'
  }

  async decided (timeoutMs: number): Promise<void> {
    // No other member is up: nothing can be learned (nor repaired from) until one is, so nobody waits.
    if (this.#state !== 'probing' || this.#nobodyUp()) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      this.#decided.push(() => { clearTimeout(timer); resolve() })
    })
  }

  async cursor (p: number): Promise<string | undefined> {
    const stored = await this.#options.meta.get(RESTORE_CURSOR_PREFIX + String(p))
    return stored === undefined ? undefined : (JSON.parse(stored) as RestoreCursor).after
  }

  async advance (p: number, after: string | undefined): Promise<void> {
    const cursor: RestoreCursor = after === undefined ? { done: true } : { after }
    // Fsynced: it makes the page's merges durable too (one commit log), so the cursor never runs ahead of them.
    await this.#options.meta.put(RESTORE_CURSOR_PREFIX + String(p), JSON.stringify(cursor), durable(true))
    if (after === undefined) this.#pulled.add(p)
  }

  /** The rebuilding partitions this node replicates: what anti-entropy should compare first. */
  priority (): number[] {
    if (this.#state !== 'rebuilding') return []
    const left = this.#replicated().filter((p) => !this.#done.has(p))
    // A ring change can leave it no partition to rebuild (it was given none, or they moved away).
    if (left.length === 0 && this.#options.membership.ringState() !== undefined) this.#current()
    return left
  }

  /** Anti-entropy found partition `p` equal to `peer`'s (or brought it up to it). */
  inSync (p: number, peer: string): void {
    if (this.#state !== 'rebuilding' || this.#done.has(p)) return
    let peers = this.#synced.get(p)
    if (peers === undefined) this.#synced.set(p, peers = new Set())
    peers.add(peer)
    const others = this.#others(p)
    if (others === undefined || !others.every((id) => peers.has(id))) return
    this.#done.add(p)
    this.#synced.delete(p)
    const left = this.priority().length
    if (left > 0) {
      this.#options.logger.debug({ partition: p, left }, 'partition current again')
      this.#save()
    }
  }

  #current (): void {
    this.#state = 'current'
    this.#byRange = false
    this.#options.logger.info('every partition this node replicates is current again: its replies are authoritative')
    this.#save()
    void this.#forgetCursors().catch((err: unknown) => this.#options.logger.error({ err }, 'could not remove the range restore\'s cursors'))
  }

  async #forgetCursors (): Promise<void> {
    const { meta } = this.#options
    for await (const key of meta.keys({ gte: RESTORE_CURSOR_PREFIX, lt: RESTORE_CURSOR_PREFIX + '\uffff' })) await meta.del(key)
    this.#pulled.clear()
  }

  #save (): void {
    void this.#store().catch((err: unknown) => this.#options.logger.error({ err }, 'could not store the recovery state'))
  }

  view (): RecoveryView {
    return { state: this.#state, partitionsRebuilding: this.#state === 'current' ? 0 : this.#state === 'probing' ? this.#replicated().length : this.priority().length }
  }

  /** While probing: ask the peers every PROBE_INTERVAL_MS until they have decided. */
  start (): void {
    if (this.#state !== 'probing' || this.#timer !== undefined) return
    const tick = (): void => { this.#probing ??= this.probe().finally(() => { this.#probing = undefined }) }
    this.#timer = setInterval(tick, PROBE_INTERVAL_MS).unref()
    tick()
  }

  async stop (): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    await this.#probing
  }

  /**
   * Ask every other member whether it heard of this node id at a generation before this process's
   * (every node stores the first generation it heard of each member). One yes: this node lost
   * its data (rebuilding). No yes from at least half of the other members (and at least one): a new
   * member (current). Otherwise keep probing.
   */
  async probe (): Promise<void> {
    const { membership, post, logger } = this.#options
    if (this.#state !== 'probing') return
    const others = membership.members().filter((m) => m.id !== membership.selfId).map((m) => m.id)
    const body = Buffer.from(JSON.stringify({ member: membership.selfId, generation: membership.self.generation }))
    const answers = await Promise.all(others.map(async (peer) => {
      try {
        const answer = JSON.parse((await post(peer, RECOVERY_PATH, body, 'application/json', PROBE_TIMEOUT_MS)).toString('utf8')) as { known?: unknown }
        return answer.known === true
      } catch {
        return undefined
      }
    }))
    if (this.#state !== 'probing') return
    const knownBy = others.filter((_, i) => answers[i] === true)
    const answered = answers.filter((a) => a !== undefined).length
    if (answered === 0 && this.#nobodyUp()) for (const resolve of this.#decided.splice(0)) resolve()
    if (knownBy.length > 0) {
      this.#state = 'rebuilding'
      this.#byRange = true
      logger.warn({ knownBy }, 'this node id lived before but its data directory was empty: its partitions count as rebuilding ' +
        'until each is pulled whole from a replica and anti-entropy has compared it with every other replica')
    } else if (answered > 0 && answered * 2 >= others.length) {
      this.#state = 'current'
      logger.info({ answered }, 'no member knew this node id before: a new member, nothing to rebuild')
    } else {
      return
    }
    clearInterval(this.#timer)
    this.#timer = undefined
    await this.#store()
    for (const resolve of this.#decided.splice(0)) resolve()
  }

  #nobodyUp (): boolean {
    const { membership } = this.#options
    return membership.members().every((m) => m.id === membership.selfId || !membership.isUp(m.id))
  }

  /** The internode endpoint peers probe (this node answers for others). */
  route (): InternodeExtension {
    return {
      prefix: RECOVERY_PATH,
      handle: async (req: IncomingMessage, res: ServerResponse, path: string, body) => {
        if (path !== RECOVERY_PATH || req.method !== 'POST') throw new GatewayError('LEVELRING_ROUTE_NOT_FOUND', `no internode endpoint ${req.method ?? ''} ${path}`)
        let asked: { member?: unknown, generation?: unknown }
        try {
          asked = JSON.parse((await body(RECOVERY_BODY_LIMIT)).toString('utf8')) as typeof asked
        } catch {
          throw new GatewayError('LEVELRING_INVALID_PARAMETER', 'the body must be JSON {"member", "generation"}')
        }
        if (typeof asked.member !== 'string' || typeof asked.generation !== 'number') {
          throw new GatewayError('LEVELRING_INVALID_PARAMETER', 'the body must be JSON {"member": string, "generation": number}')
        }
        const first = this.#heard.get(asked.member)
        const answer = Buffer.from(JSON.stringify({ known: first !== undefined && first < asked.generation }))
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(answer.length) }).end(answer)
      }
    }
  }

  /** Record the first generation heard of every member gossip brought (stored, so a restart remembers). */
  #noteGenerations (): void {
    const { membership, meta, logger } = this.#options
    let grew = false
    for (const e of membership.entries()) {
      if (e.id === membership.selfId || e.generation <= 0 || this.#heard.has(e.id)) continue
      this.#heard.set(e.id, e.generation)
      grew = true
    }
    if (!grew) return
    void meta.put(HEARD_KEY, JSON.stringify(Object.fromEntries(this.#heard))).catch((err: unknown) => logger.error({ err }, 'could not store the generations heard'))
  }

  /** The other replicas of `p` in the current ring; undefined when this node has no ring yet. */
  #others (p: number): string[] | undefined {
    const { membership, replicas } = this.#options
    const state = membership.ringState()
    if (state === undefined) return undefined
    return state.current.ring.preferenceList(p, replicas).filter((id) => id !== membership.selfId)
  }

  /** The partitions this node replicates in the current ring (computed once per ring). */
  #replicated (): number[] {
    const { membership, replicas, partitionCount } = this.#options
    const ring = membership.ringState()?.current.ring
    if (ring === undefined) return []
    if (this.#replicatedFor?.ring === ring) return this.#replicatedFor.partitions
    const partitions: number[] = []
    for (let p = 0; p < partitionCount; p++) {
      if (ring.preferenceList(p, replicas).includes(membership.selfId)) partitions.push(p)
    }
    this.#replicatedFor = { ring, partitions }
    return partitions
  }

  async #store (): Promise<void> {
    const { meta } = this.#options
    if (this.#state === 'current') { await meta.del(RECOVERY_KEY, durable(true)); return }
    const value: Persisted = { state: this.#state, done: [...this.#done].sort((a, b) => a - b), ...(this.#byRange ? { byRange: true as const } : {}) }
    await meta.put(RECOVERY_KEY, JSON.stringify(value), durable(true))
  }
}

/** The partitions whose range restore cursor says done. */
async function pulledPartitions (meta: TextSpace): Promise<number[]> {
  const pulled: number[] = []
  for await (const [key, value] of meta.iterator({ gte: RESTORE_CURSOR_PREFIX, lt: RESTORE_CURSOR_PREFIX + '\uffff' })) {
    if ((JSON.parse(value) as RestoreCursor).done === true) pulled.push(Number.parseInt(key.slice(RESTORE_CURSOR_PREFIX.length), 10))
  }
  return pulled
}
