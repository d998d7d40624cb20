import type { ReplicaTarget } from '../ring/placement.js'
import type { CoordinatedWrite } from './coordinator.js'
import type { ReplicaStore } from '../replica/replica-store.js'
import type { DigestAnswer, InternodeClient, ReplicaAnswer } from '../internode/internode-client.js'
import type { ForwardedWrite } from '../internode/internode-protocol.js'
import type { StoredObject } from '../replica/stored-object.js'
import { readAsFallback, type HintKeeper } from '../handoff/hint-store.js'
import { decodeObject } from '../replica/object-codec.js'
import { digestOf, digestOfStored, storedWithDigest, type ReplicaDigest } from './replica-digest.js'
import type { KeyHashIndex } from '../anti-entropy/key-hash-index.js'

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
  /**
   * Like read, and whether the replica said its copy may be missing acknowledged writes (it is
   * rebuilding); with the set's digest when it came cheaply (this node's own stored bytes).
   */
  readAnswer (node: string, key: string, timeoutMs: number, includeHints?: boolean): Promise<ReplicaRead>
  /** The replica's digest of what read would answer (replica-digest.ts), and whether it is rebuilding: a digest read. */
  readDigest (node: string, key: string, timeoutMs: number, includeHints?: boolean): Promise<DigestAnswer>
  /**
   * Merge `object` into the target's replica of `key` (with `sync`: fsynced before resolving); a
   * target with `hintFor` keeps it as a hint for that node instead (sloppy quorum). `bytes`, when
   * given, is encodeObject(object) already at hand: sent (or merged) as they are instead of encoding again.
   */
  apply (target: ReplicaTarget, key: string, object: StoredObject, sync: boolean, timeoutMs: number, bytes?: Uint8Array): Promise<void>
  /** Have `node` (a replica of `key`) stamp and replicate a client write. */
  forward (node: string, key: string, write: ForwardedWrite, timeoutMs: number): Promise<CoordinatedWrite>
}

/** A replica's answer to a read, and the digest of its set when the answer came with it. */
export interface ReplicaRead extends ReplicaAnswer {
  readonly digest?: ReplicaDigest
}

/** ReplicaAccess over this node's store and the internode client. */
export class ClusterReplicaAccess implements ReplicaAccess {
  readonly selfId: string
  readonly #store: ReplicaStore
  readonly #client: InternodeClient
  readonly #hints: HintKeeper | undefined
  readonly #rebuilding: (key: string) => boolean
  readonly #index: Pick<KeyHashIndex, 'storedHashSync'> | undefined

  /**
   * `hints`: where this node keeps hints when it is a fallback (sloppy quorum); without it a hinted
   * write is refused. `rebuilding`: whether this node's own copy of a key may be missing acknowledged writes.
   * `index`: the node's key hash index, which gives the digest of this node's own reads without hashing the set.
   */
  constructor (selfId: string, store: ReplicaStore, client: InternodeClient, hints?: HintKeeper, rebuilding: (key: string) => boolean = () => false,
    index?: Pick<KeyHashIndex, 'storedHashSync'>) {
    this.selfId = selfId
    this.#store = store
    this.#client = client
    this.#hints = hints
    this.#rebuilding = rebuilding
    this.#index = index
  }

  async readAnswer (node: string, key: string, timeoutMs: number, includeHints = false): Promise<ReplicaRead> {
    if (node !== this.selfId) return this.#client.readReplicaAnswer(node, key, timeoutMs, includeHints)
    if (includeHints) return { object: await this.read(node, key, timeoutMs, includeHints), rebuilding: this.#rebuilding(key) }
    const { stored, digest } = storedWithDigest(this.#store, this.#index, key)
    // The bytes are this read's own (storedWithDigest): the values are views of them, not copies.
    return { object: stored === undefined ? undefined : decodeObject(key, stored, false), digest, rebuilding: this.#rebuilding(key) }
  }

  async readDigest (node: string, key: string, timeoutMs: number, includeHints = false): Promise<DigestAnswer> {
    if (node !== this.selfId) return this.#client.readReplicaDigest(node, key, timeoutMs, includeHints)
    const digest = includeHints ? digestOf(await this.read(node, key, timeoutMs, true)) : digestOfStored(await this.#store.readEncoded(key))
    return { digest, rebuilding: this.#rebuilding(key) }
  }

  async read (node: string, key: string, timeoutMs: number, includeHints = false): Promise<StoredObject | undefined> {
    if (node !== this.selfId) return this.#client.readReplica(node, key, timeoutMs, includeHints)
    if (!includeHints) return this.#store.read(key)
    return this.#hints === undefined ? undefined : readAsFallback(this.#hints, key)
  }

  async apply (target: ReplicaTarget, key: string, object: StoredObject, sync: boolean, timeoutMs: number, bytes?: Uint8Array): Promise<void> {
    if (target.hintFor !== undefined) {
      if (target.node !== this.selfId) { await this.#client.applyHint(target.node, target.hintFor, key, object, sync, timeoutMs, bytes); return }
      if (this.#hints === undefined) throw new Error(`hinted write for ${target.hintFor} to ${target.node}: this node keeps no hints`)
      await this.#hints.add(target.hintFor, key, object, sync)
      return
    }
    if (target.node === this.selfId) await this.#store.merge(key, object, { sync }, bytes)
    else await this.#client.applyReplica(target.node, key, object, sync, timeoutMs, bytes)
  }

  async forward (node: string, key: string, write: ForwardedWrite, timeoutMs: number): Promise<CoordinatedWrite> {
    return this.#client.forwardWrite(node, key, write, timeoutMs)
  }
}
