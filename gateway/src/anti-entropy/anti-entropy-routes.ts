import type { Logger } from 'pino'
import { GatewayError, hasCode } from '../error/gateway-error.js'
import { encodeBucketEntries, encodeNodeHashes } from './merkle-codec.js'
import type { ReplicaStore } from '../replica/replica-store.js'
import { encodeObject } from '../replica/object-codec.js'
import type { StoredObject } from '../replica/stored-object.js'
import {
  ANTI_ENTROPY_MEDIA_TYPE, ANTI_ENTROPY_PREFIX, BUCKETS_PATH, decodeBucketsRequest, decodeKeys, decodeMergeRequest,
  decodeNodesRequest, decodePartitionRequest, decodeRootsRequest, encodeObjectsAnswer, encodePartitionPage, encodeRootsAnswer,
  MERGE_PATH, NODES_PATH, OBJECTS_PATH, PARTITION_PATH, ROOTS_PATH, type PartitionPage, type RootAnswer
} from './anti-entropy-protocol.js'
import type { LocalPartition, PartitionTrees } from './partition-trees.js'
import type { KeyHashIndex } from './key-hash-index.js'
import { bucketOf, bucketRange, partitionRange, storageKey, type KeyRange } from '../replica/storage-keys.js'
import type { InternodeExtension } from '../internode/internode-routes.js'

export interface AntiEntropyRouteOptions {
  readonly trees: PartitionTrees
  /** The key hash index the trees come from: a partition page reads it. */
  readonly index: KeyHashIndex
  readonly store: ReplicaStore
  /** True when this node replicates partition p under its current ring. */
  readonly replicates: (p: number) => boolean
  /** Largest request body (a merge batch). */
  readonly maxBodyBytes: number
  readonly logger: Logger
  /**
   * True while partition p here is to be pulled whole from a replica (this node lost its data): its
   * root answers not-ready, so peers do not push it key by key meanwhile (partition-recovery.ts).
   */
  readonly restoring?: (p: number) => boolean
}

/** The anti-entropy endpoints (anti-entropy-protocol.ts), for paths under ANTI_ENTROPY_PREFIX; errors are thrown as GatewayErrors. */
export function antiEntropyRoutes (options: AntiEntropyRouteOptions): InternodeExtension['handle'] {
  const { trees, index, store, replicates, logger } = options

  /** The key's stored set; a damaged one (does not decode) counts as absent, so one bad key does not fail a whole batch. */
  async function readOrSkip (key: string): Promise<StoredObject | undefined> {
    try {
      return await store.read(key)
    } catch (err) {
      if (!(hasCode(err, 'LEVELRING_CORRUPT_OBJECT'))) throw err
      logger.error({ key }, `anti-entropy: ${err.message}`)
      return undefined
    }
  }

  async function treeOf (partition: number): Promise<LocalPartition> {
    if (trees.state === 'closed') throw new GatewayError('LEVELRING_SHUTTING_DOWN', 'this node is shutting down; compare trees with another replica or later')
    if (!Number.isSafeInteger(partition) || partition >= trees.partitionCount || !replicates(partition)) {
      throw invalid(`this node does not replicate partition ${partition} of ${trees.partitionCount} (do both nodes route by the same ring?)`)
    }
    if (!trees.isReady(partition)) throw invalid(`the key hash index of partition ${partition} is still being built here; ask for its roots again later`)
    return await trees.local(partition)
  }

  /**
   * The roots of `partitions`: a tree not in memory costs a scan of its partition's index, so after
   * ROOTS_LOAD_BUDGET_MS of such scans the rest answer not-ready (the caller's timeout is not ours
   * to exceed); they are computed when asked again.
   */
  async function rootsOf (partitions: readonly number[]): Promise<RootAnswer[]> {
    const started = performance.now()
    const out: RootAnswer[] = []
    for (const p of partitions) {
      if (!Number.isSafeInteger(p) || p >= trees.partitionCount || !replicates(p)) out.push('not-replica')
      else if (!trees.isReady(p) || options.restoring?.(p) === true) out.push('not-ready')
      else if (!trees.isCached(p) && performance.now() - started > ROOTS_LOAD_BUDGET_MS) out.push('not-ready')
      else out.push((await trees.local(p)).root())
    }
    return out
  }

  const handlers: Record<string, (body: Buffer) => Promise<Buffer | undefined>> = {
    [ROOTS_PATH]: async (body) => {
      const request = decodeRootsRequest(body)
      if (request.shape.fanout !== trees.shape.fanout || request.shape.depth !== trees.shape.depth) {
        throw invalid(`Merkle trees here are ${trees.shape.fanout}x${trees.shape.depth}, the caller's ${request.shape.fanout}x${request.shape.depth}: ` +
          'the nodes were started with different --partitions or --aae-buckets')
      }
      if (trees.state === 'closed') throw new GatewayError('LEVELRING_SHUTTING_DOWN', 'this node is shutting down; compare trees with another replica or later')
      return encodeRootsAnswer(await rootsOf(request.partitions))
    },
    [NODES_PATH]: async (body) => {
      const { partition, level, indices } = decodeNodesRequest(body)
      const tree = await treeOf(partition)
      return encodeNodeHashes(await merkleCall(() => tree.nodeHashes(level, indices)))
    },
    [BUCKETS_PATH]: async (body) => {
      const { partition, buckets } = decodeBucketsRequest(body)
      const tree = await treeOf(partition)
      return encodeBucketEntries(await merkleCall(async () => await tree.bucketEntries(buckets)))
    },
    [OBJECTS_PATH]: async (body) => {
      const keys = decodeKeys(body)
      const objects = await Promise.all(keys.map(async (key) => {
        const object = await readOrSkip(key)
        return { key, bytes: object === undefined ? undefined : encodeObject(object) }
      }))
      return encodeObjectsAnswer(objects)
    },
    [PARTITION_PATH]: async (body) => {
      const { partition, from, maxKeys } = decodePartitionRequest(body)
      await treeOf(partition) // checks the partition is ours and its index complete
      return encodePartitionPage(await partitionPage(index, partition, trees.partitionCount, trees.bucketCount, readOrSkip, from, Math.min(maxKeys, MAX_PAGE_KEYS)))
    },
    [MERGE_PATH]: async (body) => {
      // One key at a time: each merge takes the key's lock; a batch is bounded by the sender.
      for (const { key, object } of decodeMergeRequest(body)) {
        try {
          await store.merge(key, object, { sync: false })
        } catch (err) {
          // Our copy does not decode, so there is nothing to merge into: left for an operator (it is logged).
          if (!(hasCode(err, 'LEVELRING_CORRUPT_OBJECT'))) throw err
          logger.error({ key }, `anti-entropy: ${err.message}`)
        }
      }
      return undefined
    }
  }

  return async function antiEntropyHandler (req, res, path, readBody) {
    const handler = handlers[path]
    if (handler === undefined) throw new GatewayError('LEVELRING_ROUTE_NOT_FOUND', `no internode endpoint ${req.method ?? ''} ${path} (anti-entropy endpoints are under ${ANTI_ENTROPY_PREFIX})`)
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST')
      throw new GatewayError('LEVELRING_METHOD_NOT_ALLOWED', 'use POST on the anti-entropy endpoints')
    }
    const body = await readBody(options.maxBodyBytes)
    let answer: Buffer | undefined
    try {
      answer = await handler(body)
    } catch (err) {
      if (hasCode(err, 'LEVELRING_MALFORMED_BYTES') || hasCode(err, 'LEVELRING_CORRUPT_OBJECT')) throw invalid(`the body is not an anti-entropy message: ${err.message}`)
      throw err
    }
    if (answer === undefined) { res.writeHead(204).end(); return }
    res.writeHead(200, { 'Content-Type': ANTI_ENTROPY_MEDIA_TYPE, 'Content-Length': String(answer.length) }).end(answer)
  }
}

/** Keys one partition page holds at most, whatever the caller asks: bounds the answer and the time to read it. */
export const MAX_PAGE_KEYS = 1_000

/** How long one roots call may spend computing trees that are not in memory before answering not-ready for the rest. */
export const ROOTS_LOAD_BUDGET_MS = 2_000

/**
 * The stored sets of partition p's keys from `from` on, bucket by bucket (keys in index order within
 * one), at most `max`: one read of the partition's index range from the cursor on.
 */
async function partitionPage (index: KeyHashIndex, p: number, q: number, buckets: number,
  read: (key: string) => Promise<StoredObject | undefined>, from: { bucket: number, after: string }, max: number): Promise<PartitionPage> {
  const objects: Array<{ key: string, bytes: Uint8Array }> = []
  const whole = partitionRange(p, q)
  if (!Number.isSafeInteger(from.bucket) || from.bucket >= buckets) return { objects, next: undefined }
  const range = from.after === ''
    ? { ...whole, gte: bucketRange(p, q, from.bucket, buckets).gte }
    : { ...(whole.lt === undefined ? {} : { lt: whole.lt }), gt: storageKey(from.after) }
  let last: string | undefined
  for await (const { key } of index.entries(range as KeyRange)) {
    if (objects.length >= Math.max(1, max)) {
      return { objects, next: last === undefined ? from : { bucket: bucketOf(last, q, buckets).bucket, after: last } }
    }
    const object = await read(key) // undefined: reaped since (or damaged): skipped
    if (object !== undefined) objects.push({ key, bytes: encodeObject(object) })
    last = key
  }
  return { objects, next: undefined }
}

/** Run a tree read whose indices came from the caller: out-of-range levels or indices are its error (400). */
async function merkleCall<T> (read: () => T | Promise<T>): Promise<T> {
  try {
    return await read()
  } catch (err) {
    if ((err as { code?: string }).code === 'CLUSTER_INVALID_OPTION') throw invalid((err as Error).message)
    throw err
  }
}

function invalid (message: string): GatewayError {
  return new GatewayError('LEVELRING_INVALID_PARAMETER', message, { parameter: 'body' })
}
