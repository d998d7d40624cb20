import type { NewValue } from '../replica/replica-store.js'
import type { ReadQuorum, WriteQuorum } from './quorum.js'
import type { StoredObject } from '../replica/stored-object.js'
import type { CausalContext, Dot } from '../version/dvv.js'

/** A member of the cluster as this node sees it. */
export interface MemberView {
  readonly id?: string
  readonly address: string
  readonly status: 'up' | 'down' | 'unknown' | 'joining' | 'leaving' | 'left'
  /** When this node last had an answer from it (ISO 8601), if ever. */
  readonly lastSeen?: string
}

/** This node's view of the cluster, as GET /v1/cluster answers it. */
export interface ClusterView {
  readonly node: MemberView & { readonly id: string }
  readonly peers: readonly MemberView[]
  readonly ring: {
    readonly partitions: number
    readonly replicas: number
    readonly owners: ReadonlyArray<{ readonly id: string, readonly partitions: number }>
    /** A digest of the partition assignment: nodes that route alike show the same one. */
    readonly digest?: string
  }
}

/** The result of a coordinated write. */
export interface CoordinatedWrite {
  /** The key's set after the write, at the replica that stamped it. */
  readonly object: StoredObject
  /** The new version's dot. */
  readonly dot: Dot
}

/**
 * What the routes call: one key-level operation per request, with its quorum requirements.
 * Implementations decide which replicas take part, wait for the quorum, and merge what they answer.
 * Contract for every method: it resolves once the quorum is met, or rejects with a GatewayError
 * (LEVELRING_INVALID_PARAMETER for a requirement above n, LEVELRING_QUORUM_UNAVAILABLE with `needed`
 * and `answered` when too few replicas answer before the deadline, LEVELRING_TOO_MANY_SIBLINGS).
 */
export interface Coordinator {
  /** The replication factor n. */
  readonly replicas: number

  /** The merged set of the key over the replicas that answered; undefined when none holds it. */
  get (key: string, quorum: ReadQuorum): Promise<StoredObject | undefined>

  /** Write a value superseding what `context` names (null: nothing, the value becomes a sibling). */
  put (key: string, value: NewValue, context: CausalContext | null, quorum: WriteQuorum): Promise<CoordinatedWrite>

  /** Write a tombstone superseding what `context` names (null: every version the stamping replica holds). */
  delete (key: string, context: CausalContext | null, quorum: WriteQuorum): Promise<CoordinatedWrite>

  /** This node's view of the cluster. */
  clusterView (): ClusterView
}
