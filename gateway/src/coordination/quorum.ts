import { GatewayError } from '../error/gateway-error.js'

/** A replica count as a request states it: a number, or relative to the replication factor n. */
export type QuorumSpec = number | 'one' | 'quorum' | 'all'

/** Per-request read requirements. */
export interface ReadQuorum {
  /** Replicas that must answer. */
  readonly r: QuorumSpec
  /** Of those, primaries (not fallbacks) that must answer. */
  readonly pr: QuorumSpec
  /** Zone-local read: replicas in the coordinator's zone that must answer, instead of r (see localQuorum). */
  readonly lr?: QuorumSpec
  /** Whether a "not found" from a replica that is rebuilding (it lost its data) counts toward r (default true). */
  readonly notfoundOk?: boolean
  /** Deadline for the quorum, ms. */
  readonly timeoutMs: number
}

/** Per-request write requirements. */
export interface WriteQuorum {
  /** Replicas that must acknowledge. */
  readonly w: QuorumSpec
  /** Of those, replicas that must have fsynced. */
  readonly dw: QuorumSpec
  /** Of those, primaries (not fallbacks). */
  readonly pw: QuorumSpec
  /** Zone-local write: replicas in the coordinator's zone that must acknowledge, instead of w (see localQuorum). */
  readonly lw?: QuorumSpec
  /** Deadline for the quorum, ms. */
  readonly timeoutMs: number
}

/** A majority of n: any two quorums of n replicas overlap in at least one replica. */
export function majority (n: number): number {
  return Math.floor(n / 2) + 1
}

/** Resolve `spec` to a count for replication factor `n`; a count above n is a 400 naming `parameter` and `key`. */
export function resolveQuorum (key: string, parameter: string, spec: QuorumSpec, n: number): number {
  const count = spec === 'one' ? 1 : spec === 'quorum' ? majority(n) : spec === 'all' ? n : spec
  if (!Number.isSafeInteger(count) || count < 0 || count > n) {
    throw new GatewayError('LEVELRING_INVALID_PARAMETER',
      `${parameter}=${String(spec)} asks for more replicas than the ${n} that hold each key; use at most ${n} (or one, quorum, all)`,
      { key, parameter, replicas: n })
  }
  return count
}

/** A read's requirements as counts for replication factor n. */
export interface ReadCounts {
  readonly r: number
  readonly pr: number
  readonly notfoundOk: boolean
  readonly timeoutMs: number
}

/** A write's requirements as counts for replication factor n (a forwarded write carries these). */
export interface WriteCounts {
  readonly w: number
  readonly dw: number
  readonly pw: number
  readonly timeoutMs: number
  /** True for a zone-local write (lw): w and dw count acknowledgements from the stamping replica's zone only. */
  readonly local?: boolean
}

/** `quorum` resolved against n, once per request; a count above n is a 400. */
export function readCounts (key: string, quorum: ReadQuorum, n: number): ReadCounts {
  if (quorum.lr !== undefined) resolveQuorum(key, 'lr', quorum.lr, n) // above n is a 400 here too; the count itself is the coordinator's (localQuorum)
  return { r: resolveQuorum(key, 'r', quorum.r, n), pr: resolveQuorum(key, 'pr', quorum.pr, n), notfoundOk: quorum.notfoundOk ?? true, timeoutMs: quorum.timeoutMs }
}

/** `quorum` resolved against n, once per request (and once more on a node a write is forwarded to: its n may differ); a count above n is a 400. */
export function writeCounts (key: string, quorum: WriteQuorum, n: number): WriteCounts {
  if (quorum.lw !== undefined) resolveQuorum(key, 'lw', quorum.lw, n)
  return {
    w: resolveQuorum(key, 'w', quorum.w, n),
    dw: resolveQuorum(key, 'dw', quorum.dw, n),
    pw: resolveQuorum(key, 'pw', quorum.pw, n),
    timeoutMs: quorum.timeoutMs
  }
}

/**
 * Zone-local quorums (lr, lw; Cassandra's LOCAL_QUORUM): for clusters spread over distant zones, a
 * request may ask its count to be met by the key's replicas in the coordinator's zone alone, so it
 * answers at local latency. `local` is how many of the key's n primaries are in that zone; `quorum`
 * is a majority of those, `all` all of them, `one` one. A zone-local read asks only the local
 * replicas; a zone-local write still goes to all n (durability across zones), but answers once the
 * local count acknowledged. A count above n is a 400; one above `local` cannot be met (a 503, by the caller).
 */
export function localQuorum (key: string, parameter: string, spec: QuorumSpec, n: number, local: number): number {
  if (spec === 'one') return 1
  if (spec === 'quorum') return majority(Math.max(local, 1))
  if (spec === 'all') return Math.max(local, 1)
  return Math.max(resolveQuorum(key, parameter, spec, n), 1)
}

/** One requirement of a request and how far it got. */
export interface QuorumShortfall {
  /** The parameter that was not met: r, pr, w, dw or pw. */
  readonly parameter: string
  readonly needed: number
  readonly answered: number
}

/**
 * The 503 of a request whose quorum was not met: which requirement, how many replicas it needed,
 * how many answered, the replication factor, and what to do.
 */
export function quorumUnavailable (key: string, n: number, shortfall: QuorumShortfall, why: string): GatewayError {
  const { parameter, needed, answered } = shortfall
  return new GatewayError('LEVELRING_QUORUM_UNAVAILABLE',
    `${parameter}=${needed} was not met: ${answered} of the ${n} replicas answered (${why}); ` +
    'retry, lower the requirement, or bring the missing nodes back',
    { key, parameter, needed, answered, replicas: n })
}

