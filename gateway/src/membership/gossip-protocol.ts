/**
 * The gossip exchange between two nodes, over the internode transport (every call and answer
 * signed with the cluster secret, internode-auth.ts: nothing from a peer that cannot sign is
 * merged). JSON bodies: a table is a few hundred bytes per member
 * and a ring state a few KB, once a second to a few peers.
 *
 *   A -> B  POST /internal/v1/gossip           GossipSyn    A's digest and ring summary
 *   B -> A  200 application/json               GossipAck    B's entries newer than A's digest says,
 *                                                           the ids B wants, B's ring state if newer,
 *                                                           and whether B wants A's ring state
 *   A -> B  POST /internal/v1/gossip/entries   GossipAck2   A's entries for those ids, A's ring state
 *           204                                             if B asked for it (sent only when needed)
 *
 * Cassandra's SYN/ACK/ACK2 over two HTTP calls. Each side merges what it receives
 * (member-table.ts, ring/ring-state.ts), so an exchange moves news both ways.
 */
import { GatewayError } from '../error/gateway-error.js'
import { assertMemberDigest, assertMemberEntry, type MemberDigest, type MemberEntry } from './member-table.js'
import { INTERNODE_PREFIX } from '../internode/internode-protocol.js'
import type { RingSummary } from './membership.js'
import type { RingStateJSON } from '../ring/ring-state.js'

export const GOSSIP_PATH = `${INTERNODE_PREFIX}gossip`
export const GOSSIP_ENTRIES_PATH = `${INTERNODE_PREFIX}gossip/entries`
/** GET: this node's ring state (RingStateJSON), 404 before it has one. For operators' tools and tests. */
export const RING_PATH = `${INTERNODE_PREFIX}ring`

/** The first message: who sends it, its digest, and a summary of its ring state. */
export interface GossipSyn {
  readonly from: string
  readonly digest: readonly MemberDigest[]
  readonly ring: RingSummary | null
}

/** The answer to a SYN. */
export interface GossipAck {
  readonly from: string
  readonly entries: readonly MemberEntry[]
  readonly requests: readonly string[]
  /** The answering node's ring state, when it is newer than (or knows more than) the sender's summary. */
  readonly ring: RingStateJSON | null
  /** True when the sender's summary is newer: send the ring state in the ACK2. */
  readonly wantRing: boolean
}

/** The last message: the entries the ACK asked for, and the ring state if it asked for it. */
export interface GossipAck2 {
  readonly from: string
  readonly entries: readonly MemberEntry[]
  readonly ring: RingStateJSON | null
}

function bad (what: string, why: string): GatewayError {
  return new GatewayError('LEVELRING_INVALID_PARAMETER', `the body is not a gossip ${what}: ${why}`, { parameter: 'body' })
}

function object (value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad(what, 'not a JSON object')
  return value as Record<string, unknown>
}

function from (o: Record<string, unknown>, what: string): string {
  if (typeof o.from !== 'string' || o.from === '') throw bad(what, '`from` must name the sending node')
  return o.from
}

function list<T> (o: Record<string, unknown>, field: string, what: string, check: (item: T) => void): T[] {
  const value = o[field]
  if (!Array.isArray(value)) throw bad(what, `\`${field}\` must be a list`)
  try {
    for (const item of value) check(item as T)
  } catch (err) {
    throw bad(what, (err as Error).message)
  }
  return value as T[]
}

function summary (value: unknown, what: string): RingSummary | null {
  if (value === null || value === undefined) return null
  const s = object(value, what)
  if (!Number.isSafeInteger(s.epoch) || typeof s.digest !== 'string' || !Array.isArray(s.done) || s.done.some((d) => typeof d !== 'string')) {
    throw bad(what, '`ring` must be { epoch, digest, done } or null')
  }
  return { epoch: s.epoch as number, digest: s.digest, done: s.done as string[] }
}

function ringJson (value: unknown, what: string): RingStateJSON | null {
  if (value === null || value === undefined) return null
  return object(value, what) as unknown as RingStateJSON // ringStateFromJSON validates the rest
}

/** Parse a SYN body; a 400 naming what is wrong. */
export function parseSyn (body: unknown): GossipSyn {
  const o = object(body, 'SYN')
  return { from: from(o, 'SYN'), digest: list(o, 'digest', 'SYN', assertMemberDigest), ring: summary(o.ring, 'SYN') }
}

/** Parse an ACK body (a peer's answer); throws a GatewayError naming what is wrong. */
export function parseAck (body: unknown): GossipAck {
  const o = object(body, 'ACK')
  return {
    from: from(o, 'ACK'),
    entries: list(o, 'entries', 'ACK', assertMemberEntry),
    requests: list<string>(o, 'requests', 'ACK', (id) => { if (typeof id !== 'string') throw new Error('requests must be node ids') }),
    ring: ringJson(o.ring, 'ACK'),
    wantRing: o.wantRing === true
  }
}

/** Parse an ACK2 body. */
export function parseAck2 (body: unknown): GossipAck2 {
  const o = object(body, 'ACK2')
  return { from: from(o, 'ACK2'), entries: list(o, 'entries', 'ACK2', assertMemberEntry), ring: ringJson(o.ring, 'ACK2') }
}

/** > 0 when summary a is newer than b (epoch, then digest), as compareRingStates orders states. */
export function compareSummaries (a: RingSummary, b: RingSummary): number {
  return (a.epoch - b.epoch) || (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0)
}
