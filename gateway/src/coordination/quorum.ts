import { GatewayError } from '../error/gateway-error.js'

/** A replica count as a request states it: a number, or relative to the replication factor n. */
export type QuorumSpec = number | 'one' | 'quorum' | 'all'

/** Per-request read requirements. */
export interface ReadQuorum {
  /** Replicas that must answer. */
  readonly r: QuorumSpec
  /** Of those, primaries (not fallbacks) that must answer. */
  readonly pr: QuorumSpec
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
