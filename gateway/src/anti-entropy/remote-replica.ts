import type { MerkleEntry, MerkleShape } from './merkle-tree.js'
import { decodeBucketEntries, decodeNodeHashes } from './merkle-codec.js'
import type { MerklePeer } from './merkle-diff.js'
import type { StoredObject } from '../replica/stored-object.js'
import {
  ANTI_ENTROPY_MEDIA_TYPE, BUCKETS_PATH, decodeObjectsAnswer, decodeRootsAnswer, encodeBucketsRequest, encodeKeys,
  encodeMergeRequest, encodeNodesRequest, encodePartitionRequest, encodeRootsRequest, decodePartitionPage, MERGE_PATH, NODES_PATH,
  OBJECTS_PATH, PARTITION_PATH, ROOTS_PATH, type PartitionCursor, type RootAnswer
} from './anti-entropy-protocol.js'
import { decodePartitionPage as decodeRangePage, encodePartitionPageRequest, PAGE_MEDIA_TYPE, PARTITIONS_PATH, type PartitionPage } from '../handoff/partition-stream.js'

/** The one internode call anti-entropy needs (InternodeClient.post): a binary POST answered 200 (a body) or 204 (none). */
export interface InternodePoster {
  post (node: string, path: string, body: Buffer, mediaType: string, timeoutMs: number): Promise<Buffer>
}

/** What exchanges cost on the wire: request and answer bodies (HTTP heads not included; about 250 B per request). */
export interface Traffic {
  requests: number
  bytesSent: number
  bytesReceived: number
}

/** A zeroed traffic count. */
export function noTraffic (): Traffic {
  return { requests: 0, bytesSent: 0, bytesReceived: 0 }
}

/**
 * Another replica as anti-entropy sees it: its tree roots, a MerklePeer over one of its partition
 * trees (for diffMerkle), and batch reads and merges of keys. Every call goes over the internode
 * RPC (signed, its answer verified) and adds its bytes to `traffic`.
 */
export class RemoteReplica {
  readonly node: string
  readonly traffic: Traffic
  readonly #client: InternodePoster
  readonly #timeoutMs: number

  constructor (client: InternodePoster, node: string, timeoutMs: number, traffic: Traffic = noTraffic()) {
    this.#client = client
    this.node = node
    this.#timeoutMs = timeoutMs
    this.traffic = traffic
  }

  /** The peer's root of each partition (or why it has none), in the order asked. */
  async roots (shape: MerkleShape, partitions: readonly number[]): Promise<RootAnswer[]> {
    return decodeRootsAnswer(await this.#post(ROOTS_PATH, encodeRootsRequest({ shape, partitions })), partitions.length)
  }

  /** The peer's tree of `partition`, for diffMerkle. */
  tree (partition: number, shape: MerkleShape): MerklePeer {
    return {
      shape,
      nodeHashes: async (level: number, indices: readonly number[]): Promise<Buffer[]> =>
        decodeNodeHashes(await this.#post(NODES_PATH, encodeNodesRequest({ partition, level, indices }))),
      bucketEntries: async (buckets: readonly number[]): Promise<MerkleEntry[][]> =>
        decodeBucketEntries(await this.#post(BUCKETS_PATH, encodeBucketsRequest({ partition, buckets })))
    }
  }

  /** The peer's stored sets of `keys` (undefined where it holds none), in order. */
  async read (keys: readonly string[]): Promise<Array<StoredObject | undefined>> {
    return decodeObjectsAnswer(await this.#post(OBJECTS_PATH, encodeKeys(keys)), keys)
  }

  /** One page of every key the peer holds in `partition`, from `from` on (next: where the following page starts). */
  async partitionPage (partition: number, from: PartitionCursor, maxKeys: number): Promise<{ objects: Array<{ key: string, object: StoredObject }>, next: PartitionCursor | undefined }> {
    return decodePartitionPage(await this.#post(PARTITION_PATH, encodePartitionRequest({ partition, from, maxKeys })))
  }

  /**
   * One page of the peer's stored sets of `partition` in engine order, after key `after` (from its
   * first key when undefined): the join's partition streaming (handoff/partition-stream.ts), which
   * walks the partition's range once.
   */
  async rangePage (partitionCount: number, partition: number, after: string | undefined): Promise<PartitionPage> {
    const request = encodePartitionPageRequest({ partitionCount, partitions: [partition], ...(after === undefined ? {} : { after }) })
    return decodeRangePage(await this.#post(PARTITIONS_PATH, request, PAGE_MEDIA_TYPE))
  }

  /** Merge these sets into the peer's (resolves once it stored them, not fsynced). */
  async merge (objects: ReadonlyArray<{ readonly key: string, readonly object: StoredObject }>): Promise<void> {
    await this.#post(MERGE_PATH, encodeMergeRequest(objects))
  }

  async #post (path: string, body: Buffer, mediaType = ANTI_ENTROPY_MEDIA_TYPE): Promise<Buffer> {
    this.traffic.requests++
    this.traffic.bytesSent += body.length
    const answer = await this.#client.post(this.node, path, body, mediaType, this.#timeoutMs)
    this.traffic.bytesReceived += answer.length
    return answer
  }
}
