import type { Logger } from 'pino'
import { parseListen } from '../node/config.js'
import { GatewayError } from '../error/gateway-error.js'
import type { HintedHandoff } from '../handoff/hinted-handoff.js'
import type { Membership } from './membership.js'
import type { Gossiper } from './gossiper.js'
import type { PartitionTransfer } from '../handoff/partition-transfer.js'

/** How long a leaving node tries to hand off its hints before it gives up on the rest (ms). */
export const LEAVE_HINT_DRAIN_MS = 60_000

/** Sweeps a leaving node runs (each retried after a pause) before it exits with keys it could not push. */
export const LEAVE_SWEEPS = 20

/** What POST /v1/admin/join and /leave answer. */
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
    this.#options.logger.info('leaving the cluster: handing partitions over, then exiting')
    return this.#answer('leaving: the node hands its partitions and hints over, then exits')
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

  async #finishLeaving (): Promise<void> {
    const { membership, gossiper, transfer, handoff, logger } = this.#options
    logger.info('a ring without this node is current: handing over the keys it still holds')
    for (let i = 0; i < LEAVE_SWEEPS; i++) {
      const { kept } = await transfer.sweep()
      if (kept === 0) break
      await new Promise((resolve) => setTimeout(resolve, 1_000))
    }
    const left = await handoff.drain(Date.now() + LEAVE_HINT_DRAIN_MS)
    if (left > 0) logger.error({ hints: left }, 'leaving with hints not handed off: no member took them')
    membership.updateSelf({ status: 'left' })
    await gossiper.broadcast()
    await gossiper.broadcast()
    logger.info('left the cluster')
    this.#resolveLeft()
  }
}
