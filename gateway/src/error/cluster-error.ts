/** The codes a cluster building block can fail with; each names what was wrong with the input. */
export type ClusterErrorCode =
  | 'CLUSTER_INVALID_PARTITION_COUNT'
  | 'CLUSTER_INVALID_PARTITION'
  | 'CLUSTER_INVALID_MEMBER'
  | 'CLUSTER_INVALID_RING'
  | 'CLUSTER_RING_MISMATCH'
  | 'CLUSTER_INVALID_OPTION'
  | 'CLUSTER_INVALID_MERKLE_SHAPE'
  | 'CLUSTER_MERKLE_SHAPE_MISMATCH'
  | 'CLUSTER_CORRUPT_MERKLE'

/**
 * An error from the ring, membership, failure detector or Merkle tree: a stable `code`, a message
 * naming the thing that failed and what to do. The gateway maps it to a problem+json response.
 */
export class ClusterError extends Error {
  readonly code: ClusterErrorCode

  constructor (code: ClusterErrorCode, message: string) {
    super(message)
    this.name = 'ClusterError'
    this.code = code
  }
}
