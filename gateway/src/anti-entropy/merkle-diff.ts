/**
 * Comparing two replicas' Merkle trees of one partition (anti-entropy): compare roots, then only the
 * children of nodes that differ, level by level, and finally the entries of differing buckets. The
 * local side drives; the remote side only answers "these node hashes" and "these buckets' entries",
 * so the same routine runs against a tree in memory (tests) or a peer over internode RPC.
 *
 * Cost: one round trip per level plus one for the buckets (D + 2 with the root), and hashes
 * proportional to F x (differing nodes), entries proportional to the keys in differing buckets, so
 * traffic follows the size of the difference, not of the data. Equal trees cost one hash.
 */
import { GatewayError } from '../error/gateway-error.js'
import { MERKLE_HASH_BYTES, type MerkleEntry, type MerkleShape } from './merkle-tree.js'

/** What each replica answers during a comparison; a PartitionTrees LocalPartition satisfies it (and the tests' per-key model). */
export interface MerklePeer {
  readonly shape: MerkleShape
  /** Hashes of the given nodes at `level`, in the order asked. */
  nodeHashes: (level: number, indices: readonly number[]) => Promise<readonly Buffer[]> | readonly Buffer[]
  /** The entries of the given buckets, in the order asked. */
  bucketEntries: (indices: readonly number[]) => Promise<ReadonlyArray<readonly MerkleEntry[]>> | ReadonlyArray<readonly MerkleEntry[]>
}

/** A key the replicas disagree on: its value hash on each side (undefined where it is missing). */
export interface KeyDifference {
  readonly key: Buffer
  readonly local?: Buffer
  readonly remote?: Buffer
}

/** The outcome of a comparison and what it cost. */
export interface MerkleDiff {
  /** Differing keys, sorted by bucket then key bytes. */
  readonly differences: KeyDifference[]
  /** Buckets whose hashes differed. */
  readonly buckets: number[]
  /** Node hashes received from the peer. */
  readonly hashesExchanged: number
  /** Bucket entries received from the peer. */
  readonly entriesExchanged: number
  /** Bytes received from the peer: 20 per hash, key + value hash per entry. */
  readonly bytesExchanged: number
  /** Requests made to the peer. */
  readonly rounds: number
}

/**
 * Finds every key on which `local` and `remote` differ (missing on one side, or different value
 * hashes), descending only into differing subtrees. Throws CLUSTER_MERKLE_SHAPE_MISMATCH when the
 * shapes differ: rebuild one side with the other's shape.
 */
export async function diffMerkle (local: MerklePeer, remote: MerklePeer): Promise<MerkleDiff> {
  const { fanout, depth } = local.shape
  if (remote.shape.fanout !== fanout || remote.shape.depth !== depth) {
    throw new GatewayError('CLUSTER_MERKLE_SHAPE_MISMATCH',
      `cannot compare a ${fanout}x${depth} Merkle tree with a ${remote.shape.fanout}x${remote.shape.depth} one; both replicas must use the same shape`)
  }
  let hashes = 0
  let rounds = 0
  let frontier = [0]
  for (let level = 0; level <= depth; level++) {
    const theirs = await remote.nodeHashes(level, frontier)
    rounds++
    hashes += theirs.length
    if (theirs.length !== frontier.length) {
      throw new GatewayError('CLUSTER_CORRUPT_MERKLE', `peer answered ${theirs.length} hashes for ${frontier.length} nodes at level ${level}; it is misbehaving, retry the exchange later`)
    }
    const ours = await local.nodeHashes(level, frontier)
    const differing = frontier.filter((_, i) => !ours[i]!.equals(theirs[i]!))
    if (differing.length === 0) return { differences: [], buckets: [], hashesExchanged: hashes, entriesExchanged: 0, bytesExchanged: hashes * MERKLE_HASH_BYTES, rounds }
    frontier = level === depth ? differing : differing.flatMap(i => Array.from({ length: fanout }, (_, c) => i * fanout + c))
  }

  const theirBuckets = await remote.bucketEntries(frontier)
  rounds++
  const ourBuckets = await local.bucketEntries(frontier)
  const differences: KeyDifference[] = []
  let entries = 0
  let entryBytes = 0
  frontier.forEach((_, i) => {
    const theirs = theirBuckets[i] ?? []
    entries += theirs.length
    for (const e of theirs) entryBytes += e.key.length + e.valueHash.length
    differences.push(...compareBuckets(ourBuckets[i]!, theirs))
  })
  return {
    differences,
    buckets: frontier,
    hashesExchanged: hashes,
    entriesExchanged: entries,
    bytesExchanged: hashes * MERKLE_HASH_BYTES + entryBytes,
    rounds
  }
}

/** Merges our entry list with the peer's (both sorted here: a peer is not trusted to) into the keys that differ. */
function compareBuckets (unsortedOurs: readonly MerkleEntry[], unsorted: readonly MerkleEntry[]): KeyDifference[] {
  const ours = [...unsortedOurs].sort((a, b) => Buffer.compare(a.key, b.key))
  const theirs = [...unsorted].sort((a, b) => Buffer.compare(a.key, b.key))
  const out: KeyDifference[] = []
  let i = 0
  let j = 0
  while (i < ours.length || j < theirs.length) {
    const order = i >= ours.length ? 1 : j >= theirs.length ? -1 : Buffer.compare(ours[i]!.key, theirs[j]!.key)
    if (order < 0) {
      out.push({ key: ours[i]!.key, local: ours[i]!.valueHash })
      i++
    } else if (order > 0) {
      out.push({ key: theirs[j]!.key, remote: theirs[j]!.valueHash })
      j++
    } else {
      if (!ours[i]!.valueHash.equals(theirs[j]!.valueHash)) {
        out.push({ key: ours[i]!.key, local: ours[i]!.valueHash, remote: theirs[j]!.valueHash })
      }
      i++
      j++
    }
  }
  return out
}
