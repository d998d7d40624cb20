/**
 * An internode call that got no usable answer: the connection failed, the peer did not answer in
 * time, refused our cluster token, or answered something this node cannot read. Counts as a
 * replica that did not answer; the node and address say which one, `reason` why.
 */
export class ReplicaUnreachableError extends Error {
  readonly code = 'LEVELRING_REPLICA_UNREACHABLE'
  readonly node: string
  readonly address: string
  readonly reason: string
  /**
   * True when the peer certainly did not act on the call (connection refused, token refused), so a
   * write may be sent to another replica instead without risking a duplicate.
   */
  readonly notApplied: boolean

  constructor (node: string, address: string, reason: string, notApplied: boolean, options?: { cause?: unknown }) {
    super(`replica ${node} at ${address} did not answer: ${reason}`, options)
    this.name = 'ReplicaUnreachableError'
    this.node = node
    this.address = address
    this.reason = reason
    this.notApplied = notApplied
  }
}
