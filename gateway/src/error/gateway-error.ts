/**
 * The gateway's one error class. Every layer below HTTP throws it (or the engine's LEVEL_* errors)
 * with a stable `code`, a message naming the thing that failed and what to do, and `details`
 * naming it for code (key, parameter, node, offset). http/problem.ts alone turns the codes that are
 * answers into RFC 9457 problems; any other code is a 500 there.
 */

/** The codes a request can be answered with; each maps to one problem type in http/problem.ts. */
export type ProblemCode =
  | 'LEVELRING_INVALID_KEY'
  | 'LEVELRING_INVALID_PARAMETER'
  | 'LEVELRING_INVALID_CONTEXT'
  | 'LEVELRING_UNAUTHORIZED'
  | 'LEVELRING_FORBIDDEN'
  | 'LEVELRING_NOT_FOUND'
  | 'LEVELRING_ROUTE_NOT_FOUND'
  | 'LEVELRING_METHOD_NOT_ALLOWED'
  | 'LEVELRING_TOO_MANY_SIBLINGS'
  | 'LEVELRING_VALUE_TOO_LARGE'
  | 'LEVELRING_QUORUM_UNAVAILABLE'
  | 'LEVELRING_SHUTTING_DOWN'
  | 'LEVELRING_NOT_READY'
  | 'LEVELRING_NOT_A_CLUSTER_MEMBER'
  | 'LEVELRING_CLUSTER_STATE'
  | 'LEVELRING_PEER_UNREACHABLE'
  | 'LEVELRING_INTERNAL'

/** Codes of failures inside the node: a caller handles them, or they become a 500. */
export type InternalCode =
  /** A setting cannot be used (details.setting). */
  | 'LEVELRING_BAD_CONFIG'
  /** The data directory belongs to another node id. */
  | 'LEVELRING_DATA_DIR_MISMATCH'
  /** The data directory's storage format is newer than this release reads. */
  | 'LEVELRING_STORAGE_FORMAT'
  /** An internode call got no usable answer (details.node, address, reason, notApplied). */
  | 'LEVELRING_REPLICA_UNREACHABLE'
  /** Stored bytes of a key do not decode (details.key). */
  | 'LEVELRING_CORRUPT_OBJECT'
  /** Bytes of a binary format end early or hold an impossible value (details.offset). */
  | 'LEVELRING_MALFORMED_BYTES'
  /** The ring, membership, failure detector or Merkle trees refused their input. */
  | 'CLUSTER_INVALID_PARTITION_COUNT'
  | 'CLUSTER_INVALID_PARTITION'
  | 'CLUSTER_INVALID_MEMBER'
  | 'CLUSTER_INVALID_RING'
  | 'CLUSTER_RING_MISMATCH'
  | 'CLUSTER_INVALID_OPTION'
  | 'CLUSTER_INVALID_MERKLE_SHAPE'
  | 'CLUSTER_MERKLE_SHAPE_MISMATCH'
  | 'CLUSTER_CORRUPT_MERKLE'

export type GatewayErrorCode = ProblemCode | InternalCode

/** What failed, for code and for the problem's extension members. */
export type ErrorDetails = Readonly<Record<string, string | number | boolean>>

/** An error with a stable code, a message saying what failed and what to do, and details naming it. */
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

/** True when `err` is a GatewayError with `code`. */
export function hasCode (err: unknown, code: GatewayErrorCode): err is GatewayError {
  return err instanceof GatewayError && err.code === code
}
