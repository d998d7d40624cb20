import type { Logger } from 'pino'
import type { Liveness } from '../membership/liveness.js'
import type { ReplicaTarget } from '../ring/placement.js'
import type { CoordinatedWrite } from './coordinator.js'
import type { DeadlineWheel } from './deadline-wheel.js'
import type { NewValue, ReplicaStore, StampedWrite, Supersedes } from '../replica/replica-store.js'
import type { WriteCounts } from './quorum.js'
import { hasCode } from '../error/gateway-error.js'
import type { BackgroundWork } from './background-work.js'
import { LATE_REPLY_MS } from './get-fsm.js'
import { quorumUnavailable } from './quorum.js'
import type { ReplicaAccess } from './replica-access.js'

/**
 * Time kept back when forwarding: the stamping replica gets the client's remaining time minus this,
 * so its own 503 (with its counts) reaches us before our deadline does.
 */
export const FORWARD_MARGIN_MS = 50

/**
 * The states of one coordinated write, after Riak's put FSM:
 *
 *   prepare ─┬─(this node is a target)─▶ stamping ─▶ replicating ─▶ answered ─┐
 *            │                               │              │                 ├─(every ack in)─▶ done
 *            │                               └──────────────┴──▶ failed ──────┘
 *            └─(it is not)─▶ forwarding ─▶ answered | failed ─▶ done
 *
 * prepare:     pick the stamping replica: this node when it is one of the key's primary targets
 *              (or a fallback target while no primary is up), else the first target believed up,
 *              primaries first, forwarded to.
 * stamping:    the local replica store stamps the write (a fresh dot of this node's actor); a
 *              primary stores it (fsynced when dw > 0), its first acknowledgement. A fallback
 *              stores nothing of its own: it stamps over its hints for the key and keeps the
 *              result only as a hint, sent to itself like to any other target.
 * replicating: the stamped set goes to every other target at once (fsynced there when dw > 0);
 *              each acknowledgement counts toward w (and dw), a primary's toward pw. A target that
 *              does not acknowledge is replaced by the next fallback (sloppy quorum), which keeps
 *              the write as a hint for it and whose acknowledgement counts toward w, not pw.
 *              During a join or leave the pending ring's new replicas get a copy, not counted;
 *              a copy a new replica does not acknowledge is kept here as a hint for it.
 * forwarding:  the write goes to the chosen replica, which runs this machine from `stamping` and
 *              answers once its counts are met. A target that certainly did not get the call
 *              (connection refused) is skipped for the next one; any other failure is the answer,
 *              since the write may have been applied.
 * answered:    the counts were met; the client gets the stamped set and its dot. Late
 *              acknowledgements are still collected (the replicas apply the write regardless).
 * failed:      the deadline passed, or every replica replied without meeting the counts, or the
 *              stamp was refused (409 too many siblings): the client gets the error, a 503 saying
 *              how many replicas acknowledged. Replicas that applied the write keep it (as in
 *              Dynamo: a failed write may be visible later).
 */
export type PutState = 'prepare' | 'stamping' | 'replicating' | 'forwarding' | 'answered' | 'failed' | 'done'

const NEXT: Readonly<Record<PutState, readonly PutState[]>> = {
  prepare: ['stamping', 'forwarding'],
  stamping: ['replicating', 'failed'],
  replicating: ['answered', 'failed'],
  forwarding: ['answered', 'failed'],
  answered: ['done'],
  failed: ['done'],
  done: []
}

export interface PutRequest {
  readonly key: string
  /** The new value, or null for a delete. */
  readonly value: NewValue | null
  readonly supersedes: Supersedes
  /** Resolved counts, each <= n (validated by the coordinator). */
  readonly counts: WriteCounts
  readonly targets: readonly ReplicaTarget[]
  readonly n: number
  /** Stamp here even if this node is not among the targets (a forwarded write; see DistributedCoordinator.stampHere). */
  readonly stampHere: boolean
  /** Sloppy quorum: nodes that keep a hint, in order, for a target that does not acknowledge (KeyPlacement.fallbacks). */
  readonly fallbacks?: readonly string[]
  /** Nodes that also get the write, not counted toward w: a ring transition's new replicas (KeyPlacement.handoff). */
  readonly handoff?: readonly string[]
  /**
   * A zone-local write (lw, quorum.ts): only these nodes' acknowledgements count toward w and dw,
   * and a write this node cannot stamp is forwarded only to one of them. Absent: every target counts.
   */
  readonly counted?: ReadonlySet<string>
}

export interface PutFsmContext {
  readonly access: ReplicaAccess
  readonly store: ReplicaStore
  readonly liveness: Liveness
  readonly deadlines: DeadlineWheel
  readonly background: BackgroundWork
  readonly logger: Logger
}

/** One coordinated write; `run()` once. */
export class PutFsm {
  readonly #request: PutRequest
  readonly #context: PutFsmContext
  #state: PutState = 'prepare'
  /** Acknowledgements (the stamp included), those from primaries, and replicas still pending. */
  #acks = 0
  #primaryAcks = 0
  #pending = 0
  #failedNodes: string[] = []
  #resolve: (value: CoordinatedWrite) => void = () => {}
  #reject: (err: Error) => void = () => {}
  #stamped: StampedWrite | undefined
  /** Fallbacks not used yet. */
  readonly #fallbacks: string[]

  constructor (request: PutRequest, context: PutFsmContext) {
    this.#request = request
    this.#context = context
    this.#fallbacks = [...(request.fallbacks ?? [])]
  }

  get state (): PutState {
    return this.#state
  }

  /** Acknowledgements needed: dw counts within w (as in Riak), and every replica fsyncs when dw > 0. */
  get #needed (): number {
    return Math.max(this.#request.counts.w, this.#request.counts.dw, 1)
  }

  run (): Promise<CoordinatedWrite> {
    const answer = new Promise<CoordinatedWrite>((resolve, reject) => { this.#resolve = resolve; this.#reject = reject })
    const self = this.#context.access.selfId
    const { targets, stampHere } = this.#request
    const me = targets.find((t) => t.node === self)
    // A fallback stamps only when no primary is up to do it: a primary's store is where the key lives.
    const primaryUp = targets.some((t) => t.primary && t.node !== self && this.#context.liveness.isUp(t.node))
    if (stampHere || me?.primary === true || (me !== undefined && !primaryUp)) {
      this.#to('stamping')
      this.#stamp()
    } else {
      this.#to('forwarding')
      this.#context.background.track(this.#forward())
    }
    return this.#context.deadlines.race(answer, this.#request.counts.timeoutMs, () => this.#timedOut())
  }

  #stamp (): void {
    const { key, value, supersedes, counts, targets } = this.#request
    const { access, store } = this.#context
    const self = access.selfId
    // Only a primary stores the stamp in its own objects. A fallback (or a node outside the key's
    // targets) stamps over the hints it keeps for the key and keeps the write only as a hint: a copy
    // in its own objects would outlive the hint's delivery and could bring back a later delete.
    const stamping = targets.find((t) => t.node === self)?.primary === true
      ? store.write(key, value, supersedes, { sync: counts.dw > 0 })
      : access.read(self, key, counts.timeoutMs, true).then(async (base) => await store.stamp(key, value, supersedes, base))
    const work = stamping.then(
      (stamped) => this.#replicate(stamped),
      (err: unknown) => {
        if (this.#state === 'stamping') this.#fail(err as Error)
        this.#finish()
      })
    this.#context.background.track(work)
  }

  /** Send the stamped set to the other targets; done even when the deadline passed while stamping, so replicas converge. */
  #replicate (stamped: StampedWrite): void {
    this.#stamped = stamped
    const { counts, targets } = this.#request
    const self = this.#context.access.selfId
    const me = targets.find((t) => t.node === self)
    // A primary's stored stamp is its acknowledgement (when it counts: lw counts only the coordinator's
    // zone); anything else that stamped stored nothing yet: a fallback keeps the write as a hint (sent to
    // itself like to any target), which is its acknowledgement.
    const storedHere = me?.primary === true
    this.#acks = storedHere && this.#request.counted?.has(self) !== false ? 1 : 0
    this.#primaryAcks = storedHere ? 1 : 0
    const others = targets.filter((t) => t.node !== self || !storedHere)
    this.#pending = others.length
    if (this.#state === 'stamping') this.#to('replicating')
    const timeout = counts.timeoutMs + LATE_REPLY_MS
    for (const target of others) this.#send(target, stamped, timeout)
    for (const node of this.#request.handoff ?? []) this.#copyToPending(node, stamped, timeout)
    this.#evaluate()
    if (this.#pending === 0) this.#finish()
  }

  /**
   * Send the stamped set to a ring transition's new replica (not counted). One that does not
   * acknowledge gets it later as a hint kept here: its partition stream may already have passed
   * the key, and the old owners' sweep and anti-entropy are not sure to follow.
   */
  #copyToPending (node: string, stamped: StampedWrite, timeout: number): void {
    const { key, counts } = this.#request
    const { access, logger } = this.#context
    const sync = counts.dw > 0
    const work = access.apply({ node, primary: false }, key, stamped.object, sync, timeout, stamped.bytes).catch(async (err: unknown) => {
      if (node === access.selfId) throw err
      logger.debug({ key, replica: node, err }, 'copy of a write to a pending replica failed: kept here as a hint for it')
      await access.apply({ node: access.selfId, primary: false, hintFor: node }, key, stamped.object, sync, timeout, stamped.bytes)
    }).catch((err: unknown) => {
      logger.warn({ key, replica: node, err }, 'a pending replica missed a write and no hint could be kept for it (anti-entropy repairs it)')
    })
    this.#context.background.track(work)
  }

  /** Send the stamped set to one target; one that does not acknowledge is replaced by the next fallback, as a hint. */
  #send (target: ReplicaTarget, stamped: StampedWrite, timeout: number): void {
    const { key, counts } = this.#request
    // The bytes the stamp was stored in go to every replica as they are: the set is encoded once per write.
    const work = this.#context.access.apply(target, key, stamped.object, counts.dw > 0, timeout, stamped.bytes).then(
      () => this.#acknowledged(target, true),
      (err: unknown) => {
        this.#context.logger.debug({ key, replica: target.node, err }, 'replica write failed')
        const fallback = this.#fallbacks.shift()
        if (fallback === undefined) { this.#acknowledged(target, false); return }
        // Sloppy quorum: the next healthy node keeps it for the primary that did not answer.
        this.#send({ node: fallback, primary: false, hintFor: target.hintFor ?? target.node }, stamped, timeout)
      })
    this.#context.background.track(work)
  }

  #acknowledged (target: ReplicaTarget, ok: boolean): void {
    this.#pending--
    if (ok) {
      if (this.#request.counted?.has(target.node) !== false) this.#acks++
      if (target.primary) this.#primaryAcks++
    } else {
      this.#failedNodes.push(target.node)
    }
    this.#evaluate()
    if (this.#pending === 0) {
      if (this.#failedNodes.length > 0) {
        this.#context.logger.debug({ key: this.#request.key, missing: this.#failedNodes }, 'write did not reach every replica')
      }
      this.#finish()
    }
  }

  #evaluate (): void {
    if (this.#state !== 'replicating') return
    const { key, counts, n } = this.#request
    if (this.#acks >= this.#needed && this.#primaryAcks >= counts.pw) {
      this.#to('answered')
      this.#resolve({ object: this.#stamped!.object, dot: this.#stamped!.dot })
      return
    }
    if (this.#pending > 0) return
    // Every replica replied and the counts were not met. (Failing only now, not as soon as it is
    // certain, makes the counts say how many replicas hold the write.)
    const why = `${this.#failedNodes.length} replicas failed to acknowledge (${this.#failedNodes.join(', ')})`
    this.#fail(this.#acks < this.#needed
      ? quorumUnavailable(key, n, this.#shortfall(), why)
      : quorumUnavailable(key, n, { parameter: 'pw', needed: counts.pw, answered: this.#primaryAcks }, why))
  }

  /** Forward to the first target believed up that takes the call; skip only those that surely did not get it. */
  async #forward (): Promise<void> {
    try {
      await this.#forwardInOrder()
    } finally {
      this.#finish()
    }
  }

  async #forwardInOrder (): Promise<void> {
    const { key, value, supersedes, counts, targets, n } = this.#request
    const { access, liveness } = this.#context
    const deadline = Date.now() + counts.timeoutMs
    const candidates = targets.filter((t) => this.#request.counted?.has(t.node) !== false)
    const up = candidates.filter((t) => liveness.isUp(t.node))
    const ordered = [...up.filter((t) => t.primary), ...up.filter((t) => !t.primary), ...candidates.filter((t) => !liveness.isUp(t.node))]
    const refused: string[] = []
    for (const target of ordered) {
      const left = deadline - Date.now()
      if (left <= 0 || this.#state !== 'forwarding') return
      try {
        const result = await access.forward(target.node, key,
          { value, supersedes, counts: { ...counts, timeoutMs: Math.max(1, left - FORWARD_MARGIN_MS) } }, left + FORWARD_MARGIN_MS)
        if (this.#state === 'forwarding') { this.#to('answered'); this.#resolve(result) }
        return
      } catch (err) {
        const unreachable = hasCode(err, 'LEVELRING_REPLICA_UNREACHABLE') ? err.details : undefined
        if (unreachable?.notApplied === true) { refused.push(`${target.node}: ${String(unreachable.reason)}`); continue }
        if (this.#state !== 'forwarding') return
        this.#fail(unreachable !== undefined
          ? quorumUnavailable(key, n, this.#shortfall(),
            `the stamping replica ${target.node} did not answer (${String(unreachable.reason)}); the write may or may not have been applied`)
          : err as Error)
        return
      }
    }
    if (this.#state === 'forwarding') {
      this.#fail(quorumUnavailable(key, n, this.#shortfall(), `no replica of the key took the write: ${refused.join('; ')}`))
    }
  }

  /** The first count not met, for a 503. */
  #shortfall (): { parameter: string, needed: number, answered: number } {
    const { w, dw } = this.#request.counts
    return { parameter: this.#request.counted !== undefined ? 'lw' : dw > w ? 'dw' : 'w', needed: this.#needed, answered: this.#acks }
  }

  #fail (err: Error): void {
    this.#to('failed')
    this.#reject(err)
  }

  /** Nothing more will arrive: the machine ends (after answering or failing). */
  #finish (): void {
    if (this.#state === 'answered' || this.#state === 'failed') this.#to('done')
  }

  /** The deadline passed first: a 503 with the counts as they stand. */
  #timedOut (): Error {
    const { key, n, counts } = this.#request
    if (this.#state === 'stamping' || this.#state === 'replicating' || this.#state === 'forwarding') this.#to('failed')
    const shortfall = this.#acks < this.#needed ? this.#shortfall() : { parameter: 'pw', needed: counts.pw, answered: this.#primaryAcks }
    return quorumUnavailable(key, n, shortfall, `deadline timeout_ms=${counts.timeoutMs} passed`)
  }

  #to (next: PutState): void {
    if (!NEXT[this.#state].includes(next)) throw new Error(`put FSM for ${this.#request.key}: no transition ${this.#state} -> ${next}`)
    this.#state = next
  }
}
