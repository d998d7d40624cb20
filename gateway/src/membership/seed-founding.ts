import type { Logger } from 'pino'
import { Ring } from '../ring/ring.js'
import { ringPlan, ringState } from '../ring/ring-state.js'
import type { Membership } from './membership.js'

/** Gossip rounds the set of joining nodes must stay the same, once every seed answered, before the founder founds: late starters get in. */
export const FOUNDING_SETTLE_ROUNDS = 3

/** Rounds between two log lines repeating the same wait (the first is logged at once). */
const WAIT_LOG_EVERY_ROUNDS = 15

export interface SeedFoundingOptions {
  readonly membership: Membership
  /** The configured seed addresses (host:port, possibly DNS names). */
  readonly seeds: readonly string[]
  /** The member id that answered gossip at a seed address (gossiper.ts), when one has. */
  readonly answeredAt: (address: string) => string | undefined
  readonly partitions: number
  readonly logger: Logger
  readonly settleRounds?: number
}

/**
 * Founding a cluster from seeds alone: nodes started with the same `--seeds` and no `--peers` agree
 * on who founds the first ring, so no one needs a list of ids.
 *
 * Run once a gossip round by a node that has no ring. It waits until every seed has answered
 * (by gossip at its address, or a member gossips that address as its own) and is up, then until the
 * set of joining nodes it hears from has stayed the same for `settleRounds` rounds. The seed with
 * the lowest id then founds: it makes the epoch-0 ring of every joining node it hears from (itself
 * included) and gossip carries it to the others, who take it as any ring (membership/member-lifecycle.ts
 * makes a node in the current ring `up`). Every node waits for every seed, so all of them agree on
 * the lowest seed id: one founder, one first ring. A node that hears of an existing ring (a seed
 * that already has one) adopts it instead and never founds; a node that arrives after the founding
 * joins through the claimant as any joining node.
 */
export class SeedFounding {
  readonly #options: SeedFoundingOptions
  #candidates = ''
  #stableRounds = 0
  #waiting: string | undefined
  #sameWaitRounds = 0

  constructor (options: SeedFoundingOptions) {
    this.#options = options
  }

  /** What this node waits for before it has a ring, in words; undefined once it has one (or has no seeds). */
  get waitingFor (): string | undefined {
    return this.#options.membership.ringState() === undefined ? this.#waiting : undefined
  }

  /** One gossip round's step (see the class comment); true when this node founded the ring now. */
  step (): boolean {
    const { membership, seeds, logger } = this.#options
    if (membership.ringState() !== undefined || seeds.length === 0 || membership.self.status !== 'joining') return false
    const seedIds = new Map<string, string>()
    for (const address of seeds) {
      const id = this.#options.answeredAt(address) ?? (address === membership.self.address ? membership.selfId : membership.memberAt(address)?.id)
      if (id !== undefined) seedIds.set(address, id)
    }
    const unanswered = seeds.filter((a) => !seedIds.has(a))
    if (unanswered.length > 0) return this.#wait(`seeds ${unanswered.join(', ')} to answer (no ring yet: the cluster is founded once every seed answers)`)
    const down = [...new Set(seedIds.values())].filter((id) => !membership.isUp(id))
    if (down.length > 0) return this.#wait(`seed members ${down.join(', ')} to be up again`)
    const candidates = membership.entries().filter((e) => e.status === 'joining' && membership.isUp(e.id))
    const key = candidates.map((e) => `${e.id}:${e.weight}`).join(',')
    if (key !== this.#candidates) { this.#candidates = key; this.#stableRounds = 0 }
    if (this.#stableRounds++ < (this.#options.settleRounds ?? FOUNDING_SETTLE_ROUNDS)) {
      return this.#wait(`the joining nodes (${candidates.map((e) => e.id).join(', ')}) to settle before founding`)
    }
    const founder = [...seedIds.values()].sort()[0]!
    if (founder !== membership.selfId) return this.#wait(`seed ${founder} (the lowest seed id) to found the first ring`)
    const members = candidates.map(({ id, weight }) => ({ id, weight }))
    const ring = ringState(0, ringPlan(members, Ring.create(members, { partitionCount: this.#options.partitions })))
    logger.info({ members: members.map((m) => m.id), partitions: this.#options.partitions },
      'founding the cluster: every seed answered and no ring exists; this node has the lowest seed id')
    this.#waiting = undefined
    return membership.adoptRing(ring)
  }

  #wait (what: string): false {
    if (what !== this.#waiting || ++this.#sameWaitRounds >= WAIT_LOG_EVERY_ROUNDS) {
      this.#options.logger.info({ waitingFor: what }, `joining: waiting for ${what}`)
      this.#sameWaitRounds = 0
    }
    this.#waiting = what
    return false
  }
}
