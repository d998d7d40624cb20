import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import type { MemberEntry } from './member-table.js'
import { GatewayError } from '../error/gateway-error.js'
import type { InternodeClient } from '../internode/internode-client.js'
import type { BodyReader, InternodeExtension } from '../internode/internode-routes.js'
import type { Membership, RingSummary } from './membership.js'
import {
  compareSummaries, GOSSIP_ENTRIES_PATH, GOSSIP_PATH, parseAck, parseAck2, parseSyn, RING_PATH,
  type GossipAck, type GossipAck2, type GossipSyn
} from './gossip-protocol.js'
import { assertPlausibleEpoch, ringStateFromJSON, ringStateToJSON, type RingStateJSON } from '../ring/ring-state.js'

/** Peers a node gossips with per round: news reaches every member of n in about log_3(n) rounds. */
export const GOSSIP_FANOUT = 3

/** How long one gossip call may take: a hung peer must not hold rounds back (rounds skip a peer with a call in flight). */
export const GOSSIP_TIMEOUT_MS = 1_000

/** Largest gossip body accepted: a table of thousands of members plus two rings of MAX_PARTITION_COUNT. */
export const GOSSIP_BODY_LIMIT = 4 * 1024 * 1024

const JSON_TYPE = 'application/json'

/** Whom one exchange goes to: a member by id (its address from the table), or a seed known only by address. */
export interface GossipPeer {
  readonly id?: string
  readonly address: string
}

export interface GossiperOptions {
  readonly membership: Membership
  readonly client: InternodeClient
  /** Addresses to gossip with while this node knows no live member (joining, or every peer down). */
  readonly seeds: readonly string[]
  readonly intervalMs: number
  readonly fanout?: number
  readonly logger: Logger
  /** Gossip shows this node's id at `generation` or above: persist a higher generation and rebase the table on it. */
  readonly onSuperseded: (generation: number) => Promise<void>
  /** Runs at the start of every round, after the heartbeat (seed founding: membership/seed-founding.ts). */
  readonly onRound?: () => void
  readonly random?: () => number
}

/**
 * Runs gossip: every interval this node bumps its heartbeat, logs members its detector now takes
 * for down or up again, runs the claim step if it is the claimant, and exchanges its table and ring
 * state with up to GOSSIP_FANOUT random members it believes up, plus now and then one it believes
 * down (to notice its return), plus its seeds while it knows no live member. It also answers the
 * exchanges other nodes start (see gossip-protocol.ts).
 */
export class Gossiper {
  readonly #options: GossiperOptions
  readonly #random: () => number
  readonly #inFlight = new Map<string, Promise<void>>()
  readonly #seeds: Set<string>
  /** Seed address -> the member id that answered gossip there. */
  readonly #answeredAt = new Map<string, string>()
  #timer: NodeJS.Timeout | undefined
  #synced = false
  #superseding: Promise<void> | undefined

  constructor (options: GossiperOptions) {
    this.#options = options
    this.#random = options.random ?? Math.random
    this.#seeds = new Set(options.seeds)
  }

  /** True once an exchange with some peer succeeded (this node has seen the cluster's ring and table). */
  get synced (): boolean {
    return this.#synced
  }

  /** The member id that last answered gossip at seed `address`, if one has. */
  answeredAt (address: string): string | undefined {
    return this.#answeredAt.get(address)
  }

  /** The seed addresses this node knows. */
  get seeds (): string[] {
    return [...this.#seeds]
  }

  /** Gossip now, then every interval (the timer does not keep the process alive). */
  start (): void {
    if (this.#timer !== undefined) return
    this.round()
    this.#timer = setInterval(() => this.round(), this.#options.intervalMs).unref()
  }

  /**
   * Wait for the exchanges in flight (the first round's, right after start) to finish, at most
   * twice GOSSIP_TIMEOUT_MS: a node that just (re)started is then known to the peers it reached.
   */
  async settleFirstRound (): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.allSettled([...this.#inFlight.values()]),
      new Promise((resolve) => { timer = setTimeout(resolve, 2 * GOSSIP_TIMEOUT_MS) })
    ])
    clearTimeout(timer)
  }

  /** Stop gossiping and wait for exchanges in flight. */
  async stop (): Promise<void> {
    clearInterval(this.#timer)
    this.#timer = undefined
    await Promise.allSettled([...this.#inFlight.values()])
  }

  /** One round (see the class comment); exchanges run in the background. */
  round (): void {
    const { membership, logger } = this.#options
    membership.tick()
    for (const change of membership.livenessChanges()) {
      if (change.up) logger.info({ peer: change.id }, 'member up again (heartbeats arriving)')
      else logger.warn({ peer: change.id, phi: Number(change.phi.toFixed(2)) }, 'member down (phi over the threshold)')
    }
    this.#options.onRound?.()
    if (this.#synced) membership.claimIfClaimant()
    for (const peer of this.#choosePeers()) void this.#exchangeOnce(peer).catch(() => {})
  }

  /** Exchange with every member believed up, now; resolves when all answered or failed (a leaving node's last words). */
  async broadcast (): Promise<void> {
    const { membership } = this.#options
    await Promise.allSettled(membership.entries()
      .filter((e) => e.id !== membership.selfId && e.status !== 'left' && membership.isUp(e.id))
      .map(async (e) => { await this.exchange({ id: e.id, address: e.address }) }))
  }

  /**
   * Exchange with a seed now (POST /v1/admin/join); rejects with the reason the seed gave no answer
   * (or could not prove it knows the cluster secret), and only a seed that answered is kept.
   */
  async joinThrough (address: string): Promise<void> {
    const member = this.#options.membership.memberAt(address)
    await this.exchange(member === undefined ? { address } : { id: member.id, address })
    this.#seeds.add(address)
  }

  /** One SYN/ACK(/ACK2) exchange with `peer`; rejects when the peer gives no usable answer. */
  async exchange (peer: GossipPeer): Promise<void> {
    const { membership, client } = this.#options
    const syn: GossipSyn = { from: membership.selfId, digest: membership.digest(), ring: membership.ringSummary() ?? null }
    const body = Buffer.from(JSON.stringify(syn))
    const answer = peer.id === undefined
      ? await client.postToAddress(peer.address, GOSSIP_PATH, body, JSON_TYPE, GOSSIP_TIMEOUT_MS)
      : await client.post(peer.id, GOSSIP_PATH, body, JSON_TYPE, GOSSIP_TIMEOUT_MS)
    const ack: GossipAck = parseAck(JSON.parse(answer.toString('utf8')))
    this.#receive(ack.from, ack.entries, ack.ring)
    if (this.#seeds.has(peer.address)) this.#answeredAt.set(peer.address, ack.from)
    // A seed list that names this node itself reaches it too; that is not hearing from the cluster.
    if (ack.from !== membership.selfId) this.#synced = true
    if (ack.requests.length === 0 && !ack.wantRing) return
    const state = membership.ringState()
    const ack2: GossipAck2 = {
      from: membership.selfId,
      entries: membership.entriesFor(ack.requests),
      ring: ack.wantRing && state !== undefined ? ringStateToJSON(state) : null
    }
    const id = peer.id ?? membership.memberAt(peer.address)?.id
    const bytes = Buffer.from(JSON.stringify(ack2))
    if (id === undefined) await client.postToAddress(peer.address, GOSSIP_ENTRIES_PATH, bytes, JSON_TYPE, GOSSIP_TIMEOUT_MS)
    else await client.post(id, GOSSIP_ENTRIES_PATH, bytes, JSON_TYPE, GOSSIP_TIMEOUT_MS)
  }

  /** Answer a SYN: our newer entries, the ids we want, and the ring state whichever side lacks. */
  answer (syn: GossipSyn): GossipAck {
    const { membership } = this.#options
    const delta = membership.deltaFor(syn.digest)
    const mine = membership.ringSummary()
    const theirs = syn.ring
    const state = membership.ringState()
    return {
      from: membership.selfId,
      entries: delta.entries,
      requests: delta.requests,
      ring: state !== undefined && mine !== undefined && knowsMore(mine, theirs) ? ringStateToJSON(state) : null,
      wantRing: theirs !== null && knowsMore(theirs, mine ?? null)
    }
  }

  /** The internode endpoints of gossip: SYN, ACK2, and the ring state for tools and tests. */
  routes (): InternodeExtension[] {
    const { membership } = this.#options
    const json = (res: ServerResponse, status: number, value: unknown): void => {
      const body = Buffer.from(JSON.stringify(value))
      res.writeHead(status, { 'Content-Type': JSON_TYPE, 'Content-Length': String(body.length) }).end(body)
    }
    const readJson = async (readBody: BodyReader): Promise<unknown> => {
      const body = await readBody(GOSSIP_BODY_LIMIT)
      try {
        return JSON.parse(body.toString('utf8'))
      } catch {
        throw new GatewayError('LEVELRING_INVALID_PARAMETER', 'the gossip body is not JSON', { parameter: 'body' })
      }
    }
    const post = (req: IncomingMessage, res: ServerResponse): boolean => {
      if (req.method === 'POST') return true
      res.setHeader('Allow', 'POST')
      throw new GatewayError('LEVELRING_METHOD_NOT_ALLOWED', 'use POST on gossip endpoints')
    }
    return [
      {
        prefix: GOSSIP_PATH,
        handle: async (req, res, path, readBody) => {
          if (path === GOSSIP_PATH && post(req, res)) {
            const syn = parseSyn(await readJson(readBody))
            json(res, 200, this.answer(syn))
          } else if (path === GOSSIP_ENTRIES_PATH && post(req, res)) {
            const ack2 = parseAck2(await readJson(readBody))
            this.#receive(ack2.from, ack2.entries, ack2.ring)
            res.writeHead(204).end()
          } else {
            throw new GatewayError('LEVELRING_ROUTE_NOT_FOUND', `no internode endpoint ${req.method ?? ''} ${path}`)
          }
        }
      },
      {
        prefix: RING_PATH,
        handle: async (req, res, path) => {
          if (path !== RING_PATH || req.method !== 'GET') throw new GatewayError('LEVELRING_ROUTE_NOT_FOUND', `no internode endpoint ${req.method ?? ''} ${path}`)
          const state = membership.ringState()
          if (state === undefined) throw new GatewayError('LEVELRING_NOT_FOUND', `node ${membership.selfId} has no ring yet (it is joining)`)
          json(res, 200, ringStateToJSON(state))
        }
      }
    ]
  }

  /** Merge what a peer sent: entries, then its ring state (a bad one is logged and ignored). */
  #receive (from: string, entries: readonly MemberEntry[], ring: RingStateJSON | null): void {
    const { membership, logger } = this.#options
    const outcome = membership.merge(entries)
    if (outcome.selfSuperseded) this.#superseded(entries)
    if (ring === null) return
    try {
      const state = ringStateFromJSON(ring)
      assertPlausibleEpoch(membership.ringState(), state)
      membership.adoptRing(state)
    } catch (err) {
      logger.warn({ peer: from, err: (err as Error).message }, 'ignored a ring state gossiped by a peer')
    }
  }

  #superseded (entries: readonly MemberEntry[]): void {
    const { membership, logger, onSuperseded } = this.#options
    const seen = Math.max(...entries.filter((e) => e.id === membership.selfId).map((e) => e.generation))
    logger.error({ ours: membership.self.generation, gossiped: seen },
      `gossip carries this node's id ${membership.selfId} at a newer generation: another process uses this id, ` +
      'or this one restarted with its clock behind its last run; moving to a higher generation')
    this.#superseding ??= onSuperseded(seen + 1).catch((err: unknown) => {
      logger.error({ err }, 'could not store a higher generation')
    }).finally(() => { this.#superseding = undefined })
  }

  #choosePeers (): GossipPeer[] {
    const { membership, fanout } = this.#options
    const self = membership.selfId
    const others = membership.entries().filter((e) => e.id !== self && e.status !== 'left')
    const up = others.filter((e) => membership.isUp(e.id))
    const down = others.filter((e) => !membership.isUp(e.id))
    const picks = sample(up, fanout ?? GOSSIP_FANOUT, this.#random)
    // Cassandra's rule: now and then one that is down, so its return is noticed even if it gossips to no one.
    if (down.length > 0 && this.#random() < down.length / (up.length + 1)) picks.push(down[Math.floor(this.#random() * down.length)]!)
    const peers: GossipPeer[] = picks.map((e) => ({ id: e.id, address: e.address }))
    // Without a ring (joining, or founding from seeds) every seed is asked each round: founding waits for all of them.
    if (!this.#synced || up.length === 0 || membership.ringState() === undefined) {
      for (const address of this.#seeds) {
        if (peers.some((p) => p.address === address)) continue
        const member = membership.memberAt(address)
        peers.push(member === undefined ? { address } : { id: member.id, address })
      }
    }
    return peers
  }

  /** Exchange unless one with the same peer is still in flight (a slow peer does not pile calls up). */
  async #exchangeOnce (peer: GossipPeer): Promise<void> {
    const name = peer.id ?? peer.address
    if (this.#inFlight.has(name)) return
    const work = this.exchange(peer).catch((err: unknown) => {
      this.#options.logger.debug({ peer: name, err: (err as Error).message }, 'gossip exchange failed')
    }).finally(() => this.#inFlight.delete(name))
    this.#inFlight.set(name, work)
    await work
  }
}

/** True when summary a says something b lacks: a newer state, or the same one with more `done`. */
function knowsMore (a: RingSummary, b: RingSummary | null): boolean {
  if (b === null) return true
  const order = compareSummaries(a, b)
  if (order !== 0) return order > 0
  return a.done.some((id) => !b.done.includes(id))
}

/** Up to k distinct entries, uniformly (partial Fisher-Yates). */
function sample<T> (pool: readonly T[], k: number, random: () => number): T[] {
  const copy = [...pool]
  const picks = Math.min(k, copy.length)
  for (let i = 0; i < picks; i++) {
    const j = i + Math.floor(random() * (copy.length - i))
    const t = copy[i]!
    copy[i] = copy[j]!
    copy[j] = t
  }
  return copy.slice(0, picks)
}
