import type { ReplicaTarget } from '../cluster/placement.js'
import type { CoordinatedWrite } from '../coordinator.js'
import type { ReplicaStore } from '../replica-store.js'
import type { InternodeClient } from '../rpc/internode-client.js'
import type { ForwardedWrite } from '../rpc/internode-protocol.js'
import type { StoredObject } from '../storage/stored-object.js'

/**
 * How the state machines reach one replica, this node or another, without caring which: the local
 * replica store directly, the others over internode RPC. Every call settles within its timeout
 * (rejecting with ReplicaUnreachableError when a peer does not answer).
 */
export interface ReplicaAccess {
  readonly selfId: string
  /** The replica's stored set of `key`, tombstones included; undefined when it holds none. */
  read (node: string, key: string, timeoutMs: number): Promise<StoredObject | undefined>
  /** Merge `object` into the target's replica of `key` (with `sync`: fsynced before resolving). */
  apply (target: ReplicaTarget, key: string, object: StoredObject, sync: boolean, timeoutMs: number): Promise<void>
  /** Have `node` (a replica of `key`) stamp and replicate a client write. */
  forward (node: string, key: string, write: ForwardedWrite, timeoutMs: number): Promise<CoordinatedWrite>
}

/** ReplicaAccess over this node's store and the internode client. */
export class ClusterReplicaAccess implements ReplicaAccess {
  readonly selfId: string
  readonly #store: ReplicaStore
  readonly #client: InternodeClient

  constructor (selfId: string, store: ReplicaStore, client: InternodeClient) {
    this.selfId = selfId
    this.#store = store
    this.#client = client
  }

  async read (node: string, key: string, timeoutMs: number): Promise<StoredObject | undefined> {
    return node === this.selfId ? this.#store.read(key) : this.#client.readReplica(node, key, timeoutMs)
  }

  async apply (target: ReplicaTarget, key: string, object: StoredObject, sync: boolean, timeoutMs: number): Promise<void> {
    if (target.hintFor !== undefined) {
      // Sloppy quorum (issue 7) sends fallbacks a hint to keep for the down primary; strict placement never does.
      throw new Error(`hinted write for ${target.hintFor} to ${target.node}: this node has no hinted handoff yet`)
    }
    if (target.node === this.selfId) await this.#store.merge(key, object, { sync })
    else await this.#client.applyReplica(target.node, key, object, sync, timeoutMs)
  }

  async forward (node: string, key: string, write: ForwardedWrite, timeoutMs: number): Promise<CoordinatedWrite> {
    return this.#client.forwardWrite(node, key, write, timeoutMs)
  }
}
