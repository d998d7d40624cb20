import type { Logger } from 'pino'
import { parseListen } from '../node/config.js'
import { GatewayError } from '../error/gateway-error.js'
import type { HintedHandoff } from '../handoff/hinted-handoff.js'
import type { Membership } from './membership.js'
import type { Gossiper } from './gossiper.js'
import type { PartitionTransfer } from '../handoff/partition-transfer.js'

/** How long one hand-off pass of a leaving node spends on its hints before it sweeps keys again (ms). */
export const LEAVE_HINT_PASS_MS = 5_000

/** Pause between two hand-over passes of a leaving node that still holds keys or hints (ms). */
export const LEAVE_RETRY_MS = 1_000

/** What a leaving node reports of its hand-over, in GET /v1/cluster and its log. */
export interface LeaveProgress {
  /** waiting: for a ring without this node to become current; handing-over: pushing keys and hints; done: about to exit. */
  readonly phase: 'waiting' | 'handing-over' | 'done'
  /** Hand-over passes made so far. */
  readonly passes: number
  /** Keys the last pass could not hand over (a new replica did not take them). */
  readonly keysLeft: number
  /** Hints still held. */
  readonly hintsLeft: number
  readonly since: string
}

/** What POST /v1/admin/join, /leave, /remove and /replace answer. */
export interface LifecycleAnswer {
  readonly node: string
  readonly status: string
  readonly members: number
  readonly ringEpoch: number | null
  readonly detail: string
}

export interface MemberLifecycleOptions {
  readonly membership: Membership
  readonly gossiper: Gossiper
  readonly transfer: PartitionTransfer
  readonly handoff: HintedHandoff
  readonly replicas: number
  readonly logger: Logger
}

/**
 * Joining and leaving, as this node lives them:
 *
 *   joining ──(a ring with this node becomes current)──▶ up ──(POST /v1/admin/leave)──▶ leaving
 *   leaving ──(a ring without it becomes current; keys and hints handed over)──▶ left ──▶ exit
 *
 * A node joins through seeds (--seeds at start, or POST /v1/admin/join {seed}); the claimant then
 * plans a ring that gives it its share and, once it has streamed its partitions, makes it
 * current. A leaving node keeps serving until a ring without it is current, then pushes every key
 * it still holds to the new replicas and hands off its hints (passing those of down owners on to
 * another node), gossips `left` and resolves `left`, after which the process exits.
 */
export class MemberLifecycle {
  readonly #options: MemberLifecycleOptions
  readonly left: Promise<void>
  #resolveLeft: () => void = () => {}
  #finishing: Promise<void> | undefined
  #progress: LeaveProgress | undefined
  #stopped = false

  constructor (options: MemberLifecycleOptions) {
    this.#options = options
    this.left = new Promise((resolve) => { this.#resolveLeft = resolve })
    options.membership.onChange(() => this.#check())
  }

  /** POST /v1/admin/join {seed}: exchange gossip with the seed now; the claimant does the rest. */
  async join (seed: unknown): Promise<LifecycleAnswer> {
    const { membership, gossiper } = this.#options
    if (typeof seed !== 'string' || seed === '') {
      throw new GatewayError('LEVELRING_INVALID_PARAMETER', 'the body must be {"seed": "host:port"}: the internode address of a cluster member', { parameter: 'seed' })
    }
    let address: string
    try {
      const { host, port } = parseListen('seed', seed.startsWith('http://') ? seed.slice(7).replace(/\/$/, '') : seed)
      if (port === 0) throw new Error('port 0')
      address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
    } catch {
      throw new GatewayError('LEVELRING_INVALID_PARAMETER', `seed ${JSON.stringify(seed)} is not host:port (e.g. 127.0.0.1:7001)`, { parameter: 'seed' })
    }
    const status = membership.self.status
    if (status === 'leaving' || status === 'left') {
      throw new GatewayError('LEVELRING_CLUSTER_STATE', `node ${membership.selfId} is ${status}; it cannot join while it leaves (restart it to rejoin)`)
    }
    if (address === membership.self.address) {
      throw new GatewayError('LEVELRING_INVALID_PARAMETER', `seed ${address} is this node itself; name a member of the cluster to join`, { parameter: 'seed' })
    }
    try {
      await gossiper.joinThrough(address)
    } catch (err) {
      throw new GatewayError('LEVELRING_PEER_UNREACHABLE', `seed ${address} gave no gossip answer (${(err as Error).message}); check the address and that it runs with the same cluster secret`,
        { parameter: 'seed' })
    }
    return this.#answer(membership.self.status === 'joining'
      ? 'joining: the claimant gives this node its share of partitions once gossip has spread; watch GET /v1/cluster'
      : 'already a member: gossip exchanged with the seed')
  }

  /** POST /v1/admin/leave: start leaving (idempotent); refused when fewer than n members would be left. */
  leave (): LifecycleAnswer {
    const { membership, replicas } = this.#options
    const status = membership.self.status
    if (status === 'leaving' || status === 'left') return this.#answer('already leaving: the node exits once its partitions and hints are handed over')
    const remaining = membership.owners().filter((m) => m.id !== membership.selfId).length
    if (remaining < replicas) {
      throw new GatewayError('LEVELRING_CLUSTER_STATE',
        `node ${membership.selfId} cannot leave: ${remaining} members would remain for n=${replicas}, so keys would have fewer than n replicas; add a node first`)
    }
    if (membership.ringState() === undefined) {
      throw new GatewayError('LEVELRING_CLUSTER_STATE', `node ${membership.selfId} has not joined a cluster yet (no ring); nothing to leave`)
    }
    membership.updateSelf({ status: 'leaving' })
    this.#progress = { phase: 'waiting', passes: 0, keysLeft: 0, hintsLeft: 0, since: new Date().toISOString() }
    this.#options.logger.info('leaving the cluster: handing partitions over, then exiting')
    return this.#answer('leaving: the node hands its partitions and hints over, then exits')
  }

  /** A leaving node's hand-over so far; undefined when it is not leaving. */
  leaveProgress (): LeaveProgress | undefined {
    if (this.#progress === undefined && this.#options.membership.self.status === 'leaving') {
      this.#progress = { phase: 'waiting', passes: 0, keysLeft: 0, hintsLeft: 0, since: new Date().toISOString() }
    }
    return this.#progress
  }

  /** The node stops (a leave in progress goes on after a restart: the status is stored). */
  stop (): void {
    this.#stopped = true
  }

  /**
   * POST /v1/admin/remove {member}: take a member that will not come back out of the cluster. Its
   * entry becomes `left` (gossiped, so every node agrees); the claimant plans a ring without it, the
   * nodes gaining its replicas stream them from the surviving replicas, and hints for it go to the
   * keys' new replicas. Refused for this node itself (use leave), for a member this node takes for
   * up (stop it or make it leave), and when fewer than n owners would remain.
   */
  async remove (member: unknown): Promise<LifecycleAnswer> {
    const id = this.#memberId(member, 'member')
    const { membership, gossiper, replicas, logger } = this.#options
    const entry = membership.entry(id)!
    if (entry.status === 'left') return this.#answerFor(id, `${id} is already out of the cluster`)
    if (membership.isUp(id)) {
      throw new GatewayError('LEVELRING_CLUSTER_STATE',
        `member ${id} is up (its heartbeats arrive): make it leave (POST /v1/admin/leave on it) instead, or stop it for good first`, { parameter: 'member' })
    }
    const remaining = membership.owners().filter((m) => m.id !== id).length
    if (remaining < replicas) {
      throw new GatewayError('LEVELRING_CLUSTER_STATE',
        `member ${id} cannot be removed: ${remaining} owners would remain for n=${replicas}, so keys would have fewer than n replicas; add a node first (or use replace)`,
        { parameter: 'member' })
    }
    if (membership.ringState() === undefined) {
      throw new GatewayError('LEVELRING_CLUSTER_STATE', `node ${membership.selfId} has not joined a cluster yet (no ring); ask a member`)
    }
    membership.setMemberStatus(id, 'left')
    logger.warn({ member: id }, 'member removed by an operator: its partitions get new replicas streamed from the surviving ones')
    await gossiper.broadcast()
    return this.#answerFor(id, `${id} removed: the ring moves on without it once its replicas are streamed; watch GET /v1/cluster`)
  }

  /**
   * POST /v1/admin/replace {old, new}: remove `old` (as remove does) in favour of `new`, a member
   * that has joined (started with --seeds, or POST /v1/admin/join): the one rebalance then gives the
   * partitions of `old` to `new` first (it is the member furthest under its share).
   */
  async replace (old: unknown, replacement: unknown): Promise<LifecycleAnswer> {
    const newId = this.#memberId(replacement, 'new')
    const oldId = this.#memberId(old, 'old')
    if (oldId === newId) throw new GatewayError('LEVELRING_INVALID_PARAMETER', 'old and new name the same member', { parameter: 'new' })
    const status = this.#options.membership.entry(newId)!.status
    if (status !== 'joining' && status !== 'up') {
      throw new GatewayError('LEVELRING_CLUSTER_STATE', `member ${newId} is ${status}: the replacement must be a member that joined (start it with --seeds)`, { parameter: 'new' })
    }
    if (!this.#options.membership.isUp(newId)) {
      throw new GatewayError('LEVELRING_CLUSTER_STATE', `member ${newId} is down: start the replacement first`, { parameter: 'new' })
    }
    const answer = await this.remove(oldId)
    return { ...answer, detail: `${oldId} replaced by ${newId}: ${answer.detail}` }
  }

  /** A member id from a request body: a non-empty string naming a member this node knows. */
  #memberId (value: unknown, parameter: string): string {
    const { membership } = this.#options
    if (typeof value !== 'string' || value === '') {
      throw new GatewayError('LEVELRING_INVALID_PARAMETER', `${parameter} must be a member id (a non-empty string)`, { parameter })
    }
    if (value === membership.selfId) {
      throw new GatewayError('LEVELRING_INVALID_PARAMETER', `${value} is the node asked: to take it out, make it leave (POST /v1/admin/leave); ask another member to remove it`, { parameter })
    }
    if (membership.entry(value) === undefined) {
      throw new GatewayError('LEVELRING_INVALID_PARAMETER', `no member ${JSON.stringify(value)} in this node's membership; see GET /v1/cluster`, { parameter })
    }
    return value
  }

  #answerFor (id: string, detail: string): LifecycleAnswer {
    const { membership } = this.#options
    return { node: id, status: membership.entry(id)!.status, members: membership.members().length, ringEpoch: membership.ringState()?.epoch ?? null, detail }
  }

  #answer (detail: string): LifecycleAnswer {
    const { membership } = this.#options
    return {
      node: membership.selfId,
      status: membership.self.status,
      members: membership.members().length,
      ringEpoch: membership.ringState()?.epoch ?? null,
      detail
    }
  }

  /** After every membership or ring change: joining -> up, and a leaving node's last steps. */
  #check (): void {
    const { membership } = this.#options
    const state = membership.ringState()
    if (state === undefined) return
    const self = membership.selfId
    const inCurrent = state.current.members.some((m) => m.id === self)
    const inPending = state.pending?.plan.members.some((m) => m.id === self) === true
    const status = membership.self.status
    if (status === 'joining' && inCurrent) {
      membership.updateSelf({ status: 'up' })
      this.#options.logger.info({ epoch: state.epoch }, 'joined: this node owns its share of the ring')
    } else if (status === 'leaving' && !inCurrent && !inPending) {
      this.#finishing ??= this.#finishLeaving()
    }
  }

  /**
   * Hand over every key and hint, pass after pass, until one pass finds nothing left: a leaving
   * node never exits holding what may be the only copy of a write. Progress is in leaveProgress()
   * (GET /v1/cluster) and the log.
   */
  async #finishLeaving (): Promise<void> {
    const { membership, gossiper, transfer, handoff, logger } = this.#options
    logger.info('a ring without this node is current: handing over the keys and hints it still holds')
    const since = this.leaveProgress()?.since ?? new Date().toISOString()
    for (let passes = 1; ; passes++) {
      if (this.#stopped) return
      let keysLeft: number
      let hintsLeft: number
      try {
        keysLeft = (await transfer.sweep()).kept
        hintsLeft = await handoff.drain(Date.now() + LEAVE_HINT_PASS_MS)
      } catch (err) {
        if (this.#stopped) return
        logger.warn({ err: (err as Error).message }, 'a hand-over pass failed; retrying')
        keysLeft = -1
        hintsLeft = -1
      }
      this.#progress = { phase: keysLeft === 0 && hintsLeft === 0 ? 'done' : 'handing-over', passes, keysLeft: Math.max(keysLeft, 0), hintsLeft: Math.max(hintsLeft, 0), since }
      if (keysLeft === 0 && hintsLeft === 0) break
      logger.warn({ passes, keysLeft, hintsLeft }, 'leaving: keys or hints not yet taken by their new owners; the node stays until they are')
      await new Promise((resolve) => setTimeout(resolve, LEAVE_RETRY_MS))
    }
    if (this.#stopped) return
    membership.updateSelf({ status: 'left' })
    await gossiper.broadcast()
    await gossiper.broadcast()
    logger.info('left the cluster')
    this.#resolveLeft()
  }
}
