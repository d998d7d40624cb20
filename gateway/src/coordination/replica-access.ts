import type { ReplicaTarget } from '../ring/placement.js'
import type { CoordinatedWrite } from './coordinator.js'
import type { ReplicaStore } from '../replica/replica-store.js'
import type { InternodeClient, ReplicaAnswer } from '../internode/internode-client.js'
import type { ForwardedWrite } from '../internode/internode-protocol.js'
import type { StoredObject } from '../replica/stored-object.js'
import { readAsFallback, type HintKeeper } from '../handoff/hint-store.js'

/**
 * How the state machines reach one replica, this node or another, without caring which: the local
 * replica store directly, the others over internode RPC. Every call settles within its timeout
 * (rejecting with LEVELRING_REPLICA_UNREACHABLE when a peer does not answer).
 */
export interface ReplicaAccess {
  readonly selfId: string
  /**
   * The replica's stored set of `key`, tombstones included; undefined when it holds none. With
   * `includeHints` (the node is a fallback for the key) the hints it keeps for the key instead.
   */
  read (node: string, key: string, timeoutMs: number, includeHints?: boolean): Promise<StoredObject | undefined>
  /** Like read, and whether the replica said its copy may be missing acknowledged writes (it is rebuilding). */
  readAnswer (node: string, key: string, timeoutMs: number, includeHints?: boolean): Promise<ReplicaAnswer>
  /**
   * Merge `object` into the target's replica of `key` (with `sync`: fsynced before resolving); a
   * target with `hintFor` keeps it as a hint for that node instead (sloppy quorum).
   */
  apply (target: ReplicaTarget, key: string, object: StoredObject, sync: boolean, timeoutMs: number): Promise<void>
  /** Have `node` (a replica of `key`) stamp and replicate a client write. */
  forward (node: string, key: string, write: ForwardedWrite, timeoutMs: number): Promise<CoordinatedWrite>
}

/** ReplicaAccess over this node's store and the internode client. */
export class ClusterReplicaAccess implements ReplicaAccess {
  readonly selfId: string
  readonly #store: ReplicaStore
  readonly #client: InternodeClient
  readonly #hints: HintKeeper | undefined
  readonly #rebuilding: (key: string) => boolean

  /**
   * `hints`: where this node keeps hints when it is a fallback (sloppy quorum); without it a hinted
   * write is refused. `rebuilding`: whether this node's own copy of a key may be missing acknowledged writes.
   */
  constructor (selfId: string, store: ReplicaStore, client: InternodeClient, hints?: HintKeeper, rebuilding: (key: string) => boolean = () => false) {
    this.selfId = selfId
    this.#store = store
    this.#client = client
    this.#hints = hints
    this.#rebuilding = rebuilding
  }

  async readAnswer (node: string, key: string, timeoutMs: number, includeHints = false): Promise<ReplicaAnswer> {
    if (node !== this.selfId) return this.#client.readReplicaAnswer(node, key, timeoutMs, includeHints)
    return { object: await this.read(node, key, timeoutMs, includeHints), rebuilding: this.#rebuilding(key) }
  }

  async read (node: string, key: string, timeoutMs: number, includeHints = false): Promise<StoredObject | undefined> {
    if (node !== this.selfId) return this.#client.readReplica(node, key, timeoutMs, includeHints)
    if (!includeHints) return this.#store.read(key)
    return this.#hints === undefined ? undefined : readAsFallback(this.#hints, key)
  }

  async apply (target: ReplicaTarget, key: string, object: StoredObject, sync: boolean, timeoutMs: number): Promise<void> {
    if (target.hintFor !== undefined) {
      if (target.node !== this.selfId) { await this.#client.applyHint(target.node, target.hintFor, key, object, sync, timeoutMs); return }
      if (this.#hints === undefined) throw new Error(`hinted write for ${target.hintFor} to ${target.node}: this node keeps no hints`)
      await this.#hints.add(target.hintFor, key, object, sync)
      return
    }
    if (target.node === this.selfId) await this.#store.merge(key, object, { sync })
    else await this.#client.applyReplica(target.node, key, object, sync, timeoutMs)
  }

  async forward (node: string, key: string, write: ForwardedWrite, timeoutMs: number): Promise<CoordinatedWrite> {
    return this.#client.forwardWrite(node, key, write, timeoutMs)
  }
}
