import type { Logger } from 'pino'
import type { InternodeClient } from '../rpc/internode-client.js'
import type { MembershipSource } from './membership-source.js'

/** A ping not answered within this marks the peer down: long enough that a busy peer is not taken for a dead one. */
export const PING_TIMEOUT_MS = 2_000

/**
 * Pings every peer at a fixed interval, so /v1/cluster can say who was reachable when even on an
 * idle cluster, and checks what answers: the member id configured for that address, routing by
 * the same ring. A mismatch means the nodes were started with different --peers, weights or
 * partitions, and is logged as an error (once per change). Reachability itself is recorded by the
 * internode client. Issue 7's gossip heartbeats make this redundant.
 */
export class PeerProber {
  readonly #membership: MembershipSource
  readonly #client: InternodeClient
  readonly #logger: Logger
  readonly #intervalMs: number
  readonly #complaints = new Map<string, string>()
  #timer: NodeJS.Timeout | undefined
  #round: Promise<void> | undefined

  constructor (membership: MembershipSource, client: InternodeClient, logger: Logger, intervalMs: number) {
    this.#membership = membership
    this.#client = client
    this.#logger = logger
    this.#intervalMs = intervalMs
  }

  /** Probe now, then every interval; a round still running when the next is due is not doubled. The timer does not keep the process alive. */
  start (): void {
    if (this.#timer !== undefined) return
    const round = (): void => {
      this.#round ??= this.probeAll().finally(() => { this.#round = undefined })
    }
    round()
    this.#timer = setInterval(round, this.#intervalMs).unref()
  }

  /** Stop probing and wait for the round in flight. */
  async stop (): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    await this.#round
  }

  /** Ping every peer once; resolves when all answered or failed. */
  async probeAll (): Promise<void> {
    const self = this.#membership.selfId
    const ring = this.#membership.ring().digest()
    await Promise.all(this.#membership.members().filter((m) => m.id !== self).map(async (m) => {
      try {
        const answer = await this.#client.ping(m.id, PING_TIMEOUT_MS)
        const problem = answer.node !== m.id
          ? `the node at ${m.address} says it is ${answer.node}, but --peers names ${m.id} there`
          : answer.ring !== ring
            ? `${m.id} routes by ring ${String(answer.ring)}, this node by ${ring}: start every node with the same --peers, weights and --partitions`
            : undefined
        this.#complain(m.id, problem)
      } catch {
        // Unreachable: the client logged it and recorded it.
      }
    }))
  }

  #complain (peer: string, problem: string | undefined): void {
    if (this.#complaints.get(peer) === problem) return
    if (problem === undefined) this.#complaints.delete(peer)
    else {
      this.#complaints.set(peer, problem)
      this.#logger.error({ peer }, `cluster misconfigured: ${problem}`)
    }
  }
}
