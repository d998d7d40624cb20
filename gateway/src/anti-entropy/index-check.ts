import type { ByteSpace } from '../replica/node-storage.js'
import { storageKey, userKeyOf } from '../replica/storage-keys.js'
import { BucketHash } from './bucket-tree.js'
import { versionHash } from './version-hash.js'
import { bucketOf } from '../replica/storage-keys.js'
import { hasCode } from '../error/gateway-error.js'

/** What checkKeyHashIndex found. */
export interface IndexCheck {
  /** Objects read. */
  readonly objects: number
  /** Index entries read. */
  readonly entries: number
  /** Keys whose object has no index entry. */
  readonly missing: string[]
  /** Keys whose index entry has no object. */
  readonly stale: string[]
  /** Keys whose index entry is not the version hash of the object. */
  readonly wrong: string[]
}

/**
 * Compare a key hash index with the objects it covers, one point read per object and per entry (no
 * memory per key): what a check after a crash, or a tool inspecting a stopped node's data directory,
 * runs. An object that does not decode is expected to have no entry.
 */
export async function checkKeyHashIndex (objects: ByteSpace, index: ByteSpace): Promise<IndexCheck> {
  const missing: string[] = []
  const stale: string[] = []
  const wrong: string[] = []
  let objectCount = 0
  let entryCount = 0
  for await (const [at, bytes] of objects.iterator()) {
    const key = userKeyOf(at)
    objectCount++
    const expected = hashOrUndefined(bytes)
    const held = await index.get(storageKey(key))
    if (expected === undefined) { if (held !== undefined) wrong.push(key); continue }
    if (held === undefined) missing.push(key)
    else if (!expected.equals(held)) wrong.push(key)
  }
  for await (const at of index.keys()) {
    entryCount++
    const key = userKeyOf(at)
    if ((await objects.get(at)) === undefined) stale.push(key)
  }
  return { objects: objectCount, entries: entryCount, missing, stale, wrong }
}

/**
 * Every bucket hash of every partition of q, computed from the objects themselves (not the index):
 * partition -> bucket -> hex hash, buckets holding no key left out. What the trees must equal.
 */
export async function bucketHashesFromObjects (objects: ByteSpace, q: number, buckets: number): Promise<Map<number, Map<number, string>>> {
  const sums = new Map<number, Map<number, BucketHash>>()
  for await (const [at, bytes] of objects.iterator()) {
    const key = userKeyOf(at)
    const hash = hashOrUndefined(bytes)
    if (hash === undefined) continue
    const { partition, bucket } = bucketOf(key, q, buckets)
    let partitionSums = sums.get(partition)
    if (partitionSums === undefined) sums.set(partition, partitionSums = new Map())
    let sum = partitionSums.get(bucket)
    if (sum === undefined) partitionSums.set(bucket, sum = new BucketHash())
    sum.add(Buffer.from(key, 'utf8'), hash)
  }
  return new Map([...sums].map(([p, bs]) => [p, new Map([...bs].map(([b, sum]) => [b, sum.hash.toString('hex')]))]))
}

function hashOrUndefined (bytes: Uint8Array): Buffer | undefined {
  try {
    return versionHash(bytes)
  } catch (err) {
    if (hasCode(err, 'LEVELRING_MALFORMED_BYTES')) return undefined
    throw err
  }
}
