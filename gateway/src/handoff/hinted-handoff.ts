import type { Logger } from 'pino'
import type { ReplicaAccess } from '../coordination/replica-access.js'
import type { Membership } from '../membership/membership.js'
import type { ReplicaStore } from '../replica/replica-store.js'
import type { ReplicaPlacement, ReplicaTarget } from '../ring/placement.js'
import { replicates } from '../ring/ring-state.js'
import type { Hint, HintStore } from './hint-store.js'

/** How often the handoff looks for owners that are up again (ms). */
export const HANDOFF_INTERVAL_MS = 1_000

/** Hints sent to one owner per round at most: throttles a returning node's catch-up (~1,000 writes/s with the default interval). */
export const HANDOFF_BATCH = 1_000

/** Deliveries in flight to one owner at once. */
export const HANDOFF_CONCURRENCY = 8

/** Per-delivery timeout (ms). */
export const HANDOFF_TIMEOUT_MS = 5_000

/** After a failed round, an owner is retried after this, doubling per failure up to HANDOFF_MAX_BACKOFF_MS. */
export const HANDOFF_FIRST_BACKOFF_MS = 1_000
export const HANDOFF_MAX_BACKOFF_MS = 30_000

export interface HintedHandoffOptions {
  readonly hints: HintStore
  readonly membership: Membership
  readonly access: ReplicaAccess
  readonly store: ReplicaStore
  /** Where a key's replicas are now: a hint whose owner no longer replicates the key goes there. */
  readonly placement: ReplicaPlacement
  /** Replication factor n: hints for a member that left go to the key's current replicas. */
  readonly replicas: number
  readonly logger: Logger
  readonly intervalMs?: number
  /** Hints for a member down longer than this (ms) go to the key's other replicas (default: never). */
  readonly hintWindowMs?: number
  /** Hints kept for one member at most; past it, its hints go to the key's other replicas (default: no cap). */
  readonly hintsPerMemberMax?: number
}

/** What one owner's deliveries look like, for GET /v1/cluster. */
interface OwnerState {
  failures: number
  retryAt: number
  lastError?: string
}

/**
 * Hinted handoff: every interval, for each owner this node keeps hints for, once this node's
 * failure detector says the owner is up again (gossip shows its heartbeat advancing), send it its
 * hints, a batch per round, a few at a time, each fsynced by the owner (sync) before the hint is
 * removed here (and only if it did not grow meanwhile). A failed delivery backs the owner off
 * (1 s doubling to 30 s). Hints for a member that has left the cluster (or was removed) go to the
 * key's current replicas instead; so do the hints of a member down longer than the hint window, or
 * with more hints than the cap, but to the key's other replicas: the member catches up from them by
 * anti-entropy when it returns, and hints never pile up without bound. Hints a node keeps for
 * itself (it was taken for down) merge into its store. A hint whose owner (this node or another)
 * replicates the key's partition in neither the current nor the pending ring (it lost the partition
 * while it was down) goes to the key's replicas now instead, as a write does (see #redirect): the
 * owner would hold it as a stray copy its sweep never visits again, and the replicas would hold one
 * copy fewer. A hint that fails is retried in a later round; it does not stop the owner's later hints.
 */
export class HintedHandoff {
  readonly #options: HintedHandoffOptions
  readonly #owners = new Map<string, OwnerState>()
  #timer: NodeJS.Timeout | undefined
  #round: Promise<void> | undefined
  #delivered = 0
  #failed = 0
  readonly #startedAt = Date.now()

  constructor (options: HintedHandoffOptions) {
    this.#options = options
  }

  start (): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => { this.#round ??= this.round().finally(() => { this.#round = undefined }) }, this.#options.intervalMs ?? HANDOFF_INTERVAL_MS).unref()
  }

  async stop (): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    await this.#round
  }

  /** Hints handed off since start. */
  get delivered (): number {
    return this.#delivered
  }

  /** Delivery batches that failed since start (each backs its owner off). */
  get failed (): number {
    return this.#failed
  }

  /** Per owner: hints pending here, and the last delivery error while it is backed off. */
  view (): { pending: number, delivered: number, owners: Array<{ id: string, pending: number, up: boolean, lastError?: string }> } {
    const { hints, membership } = this.#options
    return {
      pending: hints.total,
      delivered: this.#delivered,
      owners: [...hints.pending()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, pending]) => {
        const state = this.#owners.get(id)
        return { id, pending, up: membership.isUp(id), ...(state?.lastError === undefined ? {} : { lastError: state.lastError }) }
      })
    }
  }

  /** One round: deliver a batch to every owner that is up and not backed off. */
  async round (): Promise<void> {
    const now = Date.now()
    await Promise.all([...this.#options.hints.pending().keys()].map(async (owner) => {
      const state = this.#owners.get(owner)
      if (state !== undefined && state.retryAt > now) return
      if (this.#destination(owner) === 'wait') return
      await this.#deliverBatch(owner, HANDOFF_BATCH)
    }))
  }

  /**
   * Hand off every hint (a leaving node, before it exits): owners that are up get theirs; the hints
   * of owners that are down are passed on as hints to another node up, so none is lost when this
   * node goes. Bounded by `deadline` (ms since epoch); resolves with the hints left.
   */
  async drain (deadline: number): Promise<number> {
    const { hints, membership } = this.#options
    while (hints.total > 0 && Date.now() < deadline) {
      for (const owner of [...hints.pending().keys()]) {
        if (this.#destination(owner) === 'wait') {
          const keeper = membership.members().find((m) => m.id !== membership.selfId && m.id !== owner && membership.isUp(m.id) &&
            membership.entry(m.id)?.status !== 'leaving')
          if (keeper !== undefined) await this.#passOn(owner, keeper.id)
        } else {
          await this.#deliverBatch(owner, HANDOFF_BATCH)
        }
      }
      if (hints.total > 0) await new Promise((resolve) => setTimeout(resolve, 200))
    }
    return hints.total
  }

  /**
   * Where an owner's hints go: to it ('owner'), to the keys' current replicas ('replicas': it left
   * or was removed), to the keys' other replicas ('others': down past the hint window, or over the
   * cap), or nowhere yet ('wait': down).
   */
  #destination (owner: string): 'owner' | 'replicas' | 'others' | 'self' | 'wait' {
    const { membership, hints, hintWindowMs, hintsPerMemberMax } = this.#options
    if (owner === membership.selfId) return 'self'
    const entry = membership.entry(owner)
    if (entry === undefined || entry.status === 'left') return 'replicas'
    if (membership.isUp(owner)) return 'owner'
    const downFor = Date.now() - (membership.lastSeen(owner) ?? this.#startedAt)
    if (hintWindowMs !== undefined && downFor > hintWindowMs) return 'others'
    if (hintsPerMemberMax !== undefined && (hints.pending().get(owner) ?? 0) > hintsPerMemberMax) return 'others'
    return 'wait'
  }

  async #deliverBatch (owner: string, limit: number): Promise<void> {
    const { hints, logger } = this.#options
    let after: string | undefined
    let sent = 0
    let failed = 0
    let lastError: unknown
    try {
      while (sent < limit) {
        const batch = await hints.list(owner, Math.min(HANDOFF_CONCURRENCY * 8, limit - sent), after)
        if (batch.length === 0) break
        for (let i = 0; i < batch.length; i += HANDOFF_CONCURRENCY) {
          // A hint that fails stays for a later round; the ones after it still go now.
          const results = await Promise.allSettled(batch.slice(i, i + HANDOFF_CONCURRENCY).map(async (hint) => { await this.#deliver(hint) }))
          for (const r of results) if (r.status === 'rejected') { failed++; lastError = r.reason }
        }
        sent += batch.length
        after = batch[batch.length - 1]!.key
      }
      if (failed > 0) throw new Error(`${failed} of ${sent} hints failed: ${(lastError as Error).message}`)
      if (sent > 0) {
        if (this.#owners.has(owner)) logger.info({ owner }, 'hinted handoff: owner reachable again')
        logger.debug({ owner, sent, left: hints.pending().get(owner) ?? 0 }, 'hinted handoff: delivered hints')
      }
      this.#owners.delete(owner)
    } catch (err) {
      this.#failed++
      const state = this.#owners.get(owner) ?? { failures: 0, retryAt: 0 }
      state.failures++
      state.retryAt = Date.now() + Math.min(HANDOFF_MAX_BACKOFF_MS, HANDOFF_FIRST_BACKOFF_MS * 2 ** (state.failures - 1))
      state.lastError = (err as Error).message
      this.#owners.set(owner, state)
      logger.warn({ owner, failures: state.failures, err: (err as Error).message }, 'hinted handoff failed; retrying later')
    }
  }

  /** Deliver one hint durably to where it belongs, then remove it if unchanged. */
  async #deliver (hint: Hint): Promise<void> {
    const { access, hints, store, membership, replicas } = this.#options
    const destination = this.#destination(hint.owner)
    if ((destination === 'self' || destination === 'owner') && !this.#replicates(hint.owner, hint.key)) {
      await this.#redirect(hint)
    } else if (destination === 'self') {
      await store.merge(hint.key, hint.object, { sync: true })
    } else if (destination === 'replicas' || destination === 'others') {
      const ring = membership.ring()
      const pending = membership.pendingRing()
      // During a move the pending ring's replicas get it too: one may have streamed the partition already.
      const targets = [...new Set([...ring.preferenceList(ring.partitionOf(hint.key), replicas),
        ...(pending?.preferenceList(pending.partitionOf(hint.key), replicas) ?? [])])]
        .filter((node) => node !== hint.owner && membership.entry(node)?.status !== 'left')
      if (targets.length === 0) throw new Error(`no replica of ${hint.key} but ${hint.owner} to hand its hint to`)
      await Promise.all(targets.map(async (node) => {
        await access.apply({ node, primary: true }, hint.key, hint.object, true, HANDOFF_TIMEOUT_MS)
      }))
    } else {
      await access.apply({ node: hint.owner, primary: true }, hint.key, hint.object, true, HANDOFF_TIMEOUT_MS)
    }
    if (await hints.removeIfUnchanged(hint.owner, hint.key, hint.object)) this.#delivered++
  }

  /** True when `node` replicates `key`'s partition in the current or the pending ring (or no ring is known yet). */
  #replicates (node: string, key: string): boolean {
    const { membership, replicas } = this.#options
    const state = membership.ringState()
    return state === undefined || replicates(state, replicas, node, state.current.ring.partitionOf(key))
  }

  /**
   * Send a hint to where a write of its key goes now: the key's current targets (a fallback that
   * keeps it as a hint for a replica down) and pending replicas, each fsynced. Rejects, so that the
   * hint stays for a later round, when a push failed or a replica is down with no node to hold its
   * hint: the hint is dropped only once every replica of the key (or a hint holder for it) has it.
   */
  async #redirect (hint: Hint): Promise<void> {
    const { access, membership, placement, replicas } = this.#options
    const where = placement.place(hint.key)
    const targets: ReplicaTarget[] = [
      ...where.targets,
      ...(where.handoff ?? []).map((node) => ({ node, primary: false }))
    ]
    await Promise.all(targets.map(async (target) => {
      await access.apply(target, hint.key, hint.object, true, HANDOFF_TIMEOUT_MS)
    }))
    const ring = membership.ring()
    if (where.targets.length < ring.preferenceList(where.partition, replicas).length) {
      throw new Error(`a replica of ${hint.key} is down with no node up to hold its hint; the hint for ${hint.owner} stays`)
    }
  }

  /** A leaving node passes the hints of a down owner on to `keeper`, as hints for that owner (one pass over them). */
  async #passOn (owner: string, keeper: string): Promise<void> {
    const { access, hints, logger } = this.#options
    let after: string | undefined
    for (;;) {
      const batch = await hints.list(owner, HANDOFF_CONCURRENCY * 8, after)
      if (batch.length === 0) return
      try {
        await Promise.all(batch.map(async (hint: Hint) => {
          await access.apply({ node: keeper, primary: false, hintFor: owner }, hint.key, hint.object, true, HANDOFF_TIMEOUT_MS)
          await hints.removeIfUnchanged(owner, hint.key, hint.object)
        }))
      } catch (err) {
        logger.warn({ owner, keeper, err: (err as Error).message }, 'passing hints on failed; retrying')
        return
      }
      after = batch[batch.length - 1]!.key
    }
  }
}
