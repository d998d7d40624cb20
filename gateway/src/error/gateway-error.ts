/**
 * The gateway's coded errors. Every layer below HTTP throws these (or the engine's LEVEL_* errors);
 * problem.ts turns them into RFC 9457 answers. `details` become the problem's extension members,
 * so they name the thing that failed (key, parameter, counts).
 */

/** Every code a GatewayError can carry; each maps to one problem type in problem.ts. */
export type GatewayErrorCode =
  | 'LEVELRING_INVALID_KEY'
  | 'LEVELRING_INVALID_PARAMETER'
  | 'LEVELRING_INVALID_CONTEXT'
  | 'LEVELRING_UNAUTHORIZED'
  | 'LEVELRING_NOT_FOUND'
  | 'LEVELRING_ROUTE_NOT_FOUND'
  | 'LEVELRING_METHOD_NOT_ALLOWED'
  | 'LEVELRING_TOO_MANY_SIBLINGS'
  | 'LEVELRING_VALUE_TOO_LARGE'
  | 'LEVELRING_QUORUM_UNAVAILABLE'
  | 'LEVELRING_SHUTTING_DOWN'
  | 'LEVELRING_NOT_A_CLUSTER_MEMBER'
  | 'LEVELRING_CLUSTER_STATE'
  | 'LEVELRING_PEER_UNREACHABLE'
  | 'LEVELRING_INTERNAL'

/** Extension members of the problem: what failed and by how much. */
export type ErrorDetails = Readonly<Record<string, string | number>>

/** An error with a stable code, a message saying what to do, and details naming what failed. */
export class GatewayError extends Error {
  readonly code: GatewayErrorCode
  readonly details: ErrorDetails

  constructor (code: GatewayErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'GatewayError'
    this.code = code
    this.details = details
  }
}
