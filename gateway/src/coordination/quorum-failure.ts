import { GatewayError } from '../error/gateway-error.js'

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
