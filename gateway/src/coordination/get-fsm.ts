import type { Logger } from 'pino'
import type { ReplicaTarget } from '../ring/placement.js'
import type { DeadlineWheel } from './deadline-wheel.js'
import type { StoredObject } from '../replica/stored-object.js'
import type { BackgroundWork } from './background-work.js'
import { quorumUnavailable } from './quorum.js'
import type { ReplicaAccess } from './replica-access.js'
import { mergeReplicas, needsRepair } from '../replica/replica-merge.js'
import { digestOf, NO_DIGEST, type ReplicaDigest } from './replica-digest.js'

/** How long after the client's deadline replies are still collected for read repair (ms). */
export const LATE_REPLY_MS = 5_000

/** A read repair write may take this long before it is given up (ms). */
export const REPAIR_TIMEOUT_MS = 5_000

/**
 * How long a read waits for its data replica, when that is another node, before it asks the
 * replicas that answered digests for their sets (Cassandra's speculative retry): far above a
 * replica's read on a healthy LAN, far under a client's deadline, so a data replica that hangs
 * costs the read this much, not the deadline.
 */
export const SPECULATIVE_DATA_MS = 100

/**
 * The states of one coordinated read, after Riak's get FSM:
 *
 *   waiting ──(r replies, pr of them from primaries)──▶ answered ──┐
 *      │                                                          ├─(every reply in)─▶ repairing ─▶ done
 *      └──(deadline, or all replied short of r or pr)─────▶ failed ┘
 *
 * waiting:   the read went to every target at once, Cassandra's way: one replica (this node when it
 *            is one, else the first primary) is asked for its set, the others for their digest
 *            (replica-digest.ts). A digest equal to that of a set in hand stands for that set; a
 *            digest saying "nothing" stands for nothing; any other digest, or every digest when the
 *            data replica failed (or is SPECULATIVE_DATA_MS late), is followed by a read of that
 *            replica's set. Only a reply whose set is known this way is counted: a set, "not found",
 *            or an error. "Not found" is an answer: it counts toward r. A replica that is rebuilding
 *            (it lost its data; anti-entropy/partition-recovery.ts) may be missing acknowledged
 *            writes, so no answer of it counts toward pr, and its "not found" counts toward r only
 *            with notfound_ok (Riak's name): otherwise two such replicas could outvote the one
 *            holding an acknowledged write and answer 404.
 * answered:  the client got the merge of the replies so far. Later replies are still collected
 *            (digests that differ still fetch the set, for repair).
 * failed:    the client got a 503 saying how many replicas answered: at the deadline, or once every
 *            target replied (some with errors) without meeting r or pr. Later replies are still
 *            collected.
 * repairing: every reply is in (or timed out): the merge of everything that answered is sent to each
 *            replica that answered without it (nothing, or dominated or missing versions), tombstones
 *            included. Replicas that did not answer are not repaired here.
 */
export type GetState = 'waiting' | 'answered' | 'failed' | 'repairing' | 'done'

const NEXT: Readonly<Record<GetState, readonly GetState[]>> = {
  waiting: ['answered', 'failed'],
  answered: ['repairing', 'done'],
  failed: ['repairing', 'done'],
  repairing: ['done'],
  done: []
}

export interface GetRequest {
  readonly key: string
  readonly targets: readonly ReplicaTarget[]
  /** Replies needed (>= 1) and, of those, from primaries. */
  readonly r: number
  readonly pr: number
  /** Whether a rebuilding replica's "not found" counts toward r (it never counts toward pr). */
  readonly notfoundOk?: boolean
  /** The replication factor, for error messages. */
  readonly n: number
  readonly timeoutMs: number
}

export interface GetFsmContext {
  readonly access: ReplicaAccess
  readonly deadlines: DeadlineWheel
  readonly background: BackgroundWork
  readonly logger: Logger
  /** Told how many replicas each finished read repaired (tests and logs). */
  readonly onRepaired?: (key: string, nodes: readonly string[]) => void
}

interface Reply {
  readonly target: ReplicaTarget
  /** What the replica was last asked for: its set, or only its digest. */
  asked: 'data' | 'digest'
  /** 'digest': its digest is in, matching no set in hand yet. */
  status: 'pending' | 'digest' | 'ok' | 'error'
  object?: StoredObject
  /** The digest of its set: from its digest answer, or of the set it answered. */
  digest?: ReplicaDigest
  /** The replica said its copy may be missing acknowledged writes. */
  rebuilding?: boolean
}

/**
 * The sets of `replies`, each once: replies settled by a matching digest share the set they match
 * (the same object), and merging or checking a set once is the same as once per reply (DVV sync is
 * idempotent), so the common read (one set, r - 1 digests matching it) merges nothing.
 */
function distinctSets (replies: readonly Reply[]): Array<StoredObject | undefined> {
  return [...new Set(replies.map((x) => x.object))]
}

/** One coordinated read; `run()` once. */
export class GetFsm {
  readonly #request: GetRequest
  readonly #context: GetFsmContext
  readonly #replies: Reply[]
  #state: GetState = 'waiting'
  #ok = 0
  #okPrimaries = 0
  #errors = 0
  /** Replies in that count toward nothing: rebuilding replicas' "not found" without notfound_ok. */
  #uncounted = 0
  #resolve: (value: StoredObject | undefined) => void = () => {}
  #reject: (err: Error) => void = () => {}
  #allIn: () => void = () => {}
  /** When replica calls give up: the client's deadline plus LATE_REPLY_MS. */
  #rpcDeadline = 0
  #speculation: NodeJS.Timeout | undefined
  /** The data replica is SPECULATIVE_DATA_MS late: unmatched digests no longer wait for it. */
  #speculate = false

  constructor (request: GetRequest, context: GetFsmContext) {
    this.#request = request
    this.#context = context
    this.#replies = request.targets.map((target) => ({ target, asked: 'digest', status: 'pending' }))
  }

  get state (): GetState {
    return this.#state
  }

  /** Resolve with the merged set once the quorum is met; reject with a 503 (counts) when it cannot be. */
  run (): Promise<StoredObject | undefined> {
    const { timeoutMs } = this.#request
    const answer = new Promise<StoredObject | undefined>((resolve, reject) => { this.#resolve = resolve; this.#reject = reject })
    const allIn = new Promise<void>((resolve) => { this.#allIn = resolve })
    this.#context.background.track(allIn.then(() => this.#repair()))
    this.#rpcDeadline = Date.now() + timeoutMs + LATE_REPLY_MS
    const data = this.#dataReplica()
    this.#replies.forEach((reply) => { if (reply === data) this.#askData(reply); else this.#askDigest(reply) })
    if (data.target.node !== this.#context.access.selfId) {
      this.#speculation = setTimeout(() => { this.#speculate = true; this.#match() }, SPECULATIVE_DATA_MS).unref()
    }
    this.#evaluate()
    return this.#context.deadlines.race(answer, timeoutMs, () => this.#timedOut())
  }

  /** The replica asked for its set: this node when it is a target (its read costs no hop), else the first primary. */
  #dataReplica (): Reply {
    const self = this.#context.access.selfId
    return this.#replies.find((x) => x.target.node === self) ?? this.#replies.find((x) => x.target.primary) ?? this.#replies[0]!
  }

  /** Ask the replica for its set (a fallback for its hints of the key: it may hold the only copy of a recent write). */
  #askData (reply: Reply): void {
    const { key } = this.#request
    reply.asked = 'data'
    reply.status = 'pending'
    this.#context.access.readAnswer(reply.target.node, key, this.#rpcTimeLeft(), !reply.target.primary).then(
      ({ object, rebuilding, digest }) => {
        reply.rebuilding = rebuilding
        reply.digest = digest ?? digestOf(object)
        this.#dataIn()
        this.#settle(reply, 'ok', object)
        this.#match()
      },
      (err: unknown) => {
        this.#context.logger.debug({ key, replica: reply.target.node, err }, 'replica read failed')
        this.#dataIn()
        this.#settle(reply, 'error', undefined)
        this.#match()
      })
  }

  /** Ask the replica for its digest only; #match decides what it stands for. */
  #askDigest (reply: Reply): void {
    const { key } = this.#request
    this.#context.access.readDigest(reply.target.node, key, this.#rpcTimeLeft(), !reply.target.primary).then(
      ({ digest, rebuilding }) => {
        reply.rebuilding = rebuilding
        reply.digest = digest
        reply.status = 'digest'
        this.#match()
      },
      (err: unknown) => {
        this.#context.logger.debug({ key, replica: reply.target.node, err }, 'replica digest read failed')
        this.#settle(reply, 'error', undefined)
      })
  }

  /**
   * Settle every digest that stands for a known set: "nothing", or the digest of a set in hand. A
   * digest matching none is followed by a read of that replica's set, unless a read in flight may
   * still bring the set it stands for (the first data read, until it is SPECULATIVE_DATA_MS late,
   * or a read of another replica with the same digest).
   */
  #match (): void {
    for (const reply of this.#replies) {
      if (reply.status !== 'digest') continue
      if (reply.digest === NO_DIGEST) { this.#settle(reply, 'ok', undefined); continue }
      const same = this.#replies.find((x) => x.status === 'ok' && x.digest === reply.digest)
      if (same !== undefined) { this.#settle(reply, 'ok', same.object); continue }
      const coming = this.#replies.some((x) => x.asked === 'data' && x.status === 'pending' &&
        (x.digest === undefined ? !this.#speculate : x.digest === reply.digest))
      if (!coming) this.#askData(reply)
    }
  }

  /** The first data read settled: no speculation is needed any more. */
  #dataIn (): void {
    clearTimeout(this.#speculation)
    this.#speculation = undefined
  }

  /** A replica call's timeout: what is left of the client's deadline plus LATE_REPLY_MS. */
  #rpcTimeLeft (): number {
    return Math.max(1, this.#rpcDeadline - Date.now())
  }

  #settle (reply: Reply, status: 'ok' | 'error', object: StoredObject | undefined): void {
    reply.status = status
    reply.object = object
    if (status === 'ok') {
      if (reply.rebuilding !== true) {
        this.#ok++
        if (reply.target.primary) this.#okPrimaries++
      } else if (object !== undefined || this.#request.notfoundOk !== false) {
        this.#ok++
      } else {
        this.#uncounted++
      }
    } else {
      this.#errors++
    }
    this.#evaluate()
    if (this.#ok + this.#errors + this.#uncounted === this.#replies.length) this.#allIn()
  }

  #evaluate (): void {
    if (this.#state !== 'waiting') return
    const { key, r, pr, n } = this.#request
    if (this.#ok >= r && this.#okPrimaries >= pr) {
      this.#to('answered')
      this.#resolve(mergeReplicas(distinctSets(this.#replies.filter((x) => x.status === 'ok'))))
      return
    }
    if (this.#ok + this.#errors + this.#uncounted < this.#replies.length) return
    // Every reply is in and the quorum was not met. (Failing only now, not as soon as it is certain,
    // costs the time of the slowest answering replica and makes the counts say how far the read got.)
    this.#to('failed')
    const rebuilding = this.#replies.filter((x) => x.rebuilding === true).length
    const failed = `${this.#errors} of ${this.#replies.length} replicas failed to answer` +
      (rebuilding > 0 ? `, ${rebuilding} answered but are rebuilding lost data and do not count toward pr` : '')
    this.#reject(this.#ok < r
      ? quorumUnavailable(key, n, { parameter: 'r', needed: r, answered: this.#ok }, failed)
      : quorumUnavailable(key, n, { parameter: 'pr', needed: pr, answered: this.#okPrimaries }, failed))
  }

  /** The deadline passed first: the answer is a 503 with the counts as they stand. */
  #timedOut (): Error {
    const { key, r, pr, n, timeoutMs } = this.#request
    if (this.#state === 'waiting') this.#to('failed')
    const shortfall = this.#ok < r
      ? { parameter: 'r', needed: r, answered: this.#ok }
      : { parameter: 'pr', needed: pr, answered: this.#okPrimaries }
    return quorumUnavailable(key, n, shortfall, `deadline timeout_ms=${timeoutMs} passed`)
  }

  /** Every reply is in: send the merge of all of them to the replicas that answered without it. */
  async #repair (): Promise<void> {
    const { key } = this.#request
    const answered = this.#replies.filter((x) => x.status === 'ok')
    const merged = mergeReplicas(distinctSets(answered))
    const checked = new Map<StoredObject | undefined, boolean>()
    const lacks = (held: StoredObject | undefined): boolean => {
      let result = checked.get(held)
      if (result === undefined) checked.set(held, result = needsRepair(held, merged!))
      return result
    }
    const stale = merged === undefined ? [] : answered.filter((x) => lacks(x.object))
    if (merged === undefined || stale.length === 0) { this.#to('done'); return }
    this.#to('repairing')
    const results = await Promise.allSettled(stale.map((x) =>
      this.#context.access.apply(x.target, key, merged, false, REPAIR_TIMEOUT_MS)))
    const repaired = stale.filter((_, i) => results[i]!.status === 'fulfilled').map((x) => x.target.node)
    for (const [i, result] of results.entries()) {
      if (result.status === 'rejected') this.#context.logger.warn({ key, replica: stale[i]!.target.node, err: result.reason }, 'read repair failed')
    }
    if (repaired.length > 0) this.#context.logger.debug({ key, replicas: repaired }, 'read repair')
    this.#context.onRepaired?.(key, repaired)
    this.#to('done')
  }

  #to (next: GetState): void {
    if (!NEXT[this.#state].includes(next)) throw new Error(`get FSM for ${this.#request.key}: no transition ${this.#state} -> ${next}`)
    this.#state = next
  }
}
