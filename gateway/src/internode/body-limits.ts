import { ANTI_ENTROPY_PREFIX, BUCKETS_PATH, MERGE_PATH, NODES_PATH, OBJECTS_PATH, PARTITION_PATH, ROOTS_PATH } from '../anti-entropy/anti-entropy-protocol.js'
import { merkleShapeFor } from '../anti-entropy/merkle-shape.js'
import { MERGE_BATCH_BYTES, READ_BATCH_KEYS } from '../anti-entropy/partition-exchange.js'
import { HANDOVER_BYTES, HANDOVER_KEYS, HANDOVER_PATH, OFFER_PATH, PARTITIONS_PATH, VERSION_HASH_BYTES } from '../handoff/partition-stream.js'
import { MAX_KEY_BYTES } from '../http/key-segment.js'
import { GOSSIP_BODY_LIMIT } from '../membership/gossiper.js'
import { GOSSIP_ENTRIES_PATH, GOSSIP_PATH } from '../membership/gossip-protocol.js'
import { SIBLING_LIMIT } from '../replica/replica-store.js'
import { DEFAULT_PRUNING } from '../version/pruning.js'
import { FAULTS_BODY_LIMIT, FAULTS_PATH } from './fault-injection.js'
import { RECOVERY_BODY_LIMIT, RECOVERY_PATH } from '../anti-entropy/partition-recovery.js'
import { REPLICAS_PATH, WRITES_PATH } from './internode-protocol.js'

/**
 * Siblings one stored object can hold. A client write is refused past SIBLING_LIMIT live siblings,
 * but merges never are (they carry writes already acknowledged): concurrent stamps at other
 * replicas and the tombstones of concurrent deletes can add to a set at the limit. Twice the limit
 * leaves room for far more concurrency than a key sees.
 */
export const MAX_OBJECT_SIBLINGS = 2 * SIBLING_LIMIT

/** One clock entry: an actor (node id, at most 64 characters, plus its incarnation) and two varints. */
const CLOCK_ENTRY_BYTES = 128

/** A sibling's fields besides its value and content type: dot index and counter, flags, lastModified, lengths. */
const SIBLING_FIELD_BYTES = 48

/** A list of `count` varints that are each below 2^21 (partition numbers, tree indices): 3 bytes each, plus the header. */
const varintList = (count: number): number => 32 + 3 * count

/** The settings the caps follow from: the same on every node of a cluster, like the ring's Q. */
export interface BodyLimitSettings {
  readonly maxValueBytes: number
  /** A request head's limit: bounds what a client can put in X-Causal-Context and Content-Type. */
  readonly maxHeaderBytes: number
  readonly partitions: number
}

/** The cap of one internode endpoint: its name, for the 413's detail, and the largest body a legal call carries. */
export interface BodyCap {
  readonly endpoint: string
  readonly bytes: number
}

/**
 * The largest body each internode endpoint accepts: what a legal message to it can be, derived from
 * the value and head limits, the sibling limit, the ring's Q and the batch sizes of the code that
 * sends it. A call over its endpoint's cap is refused (413) from its Content-Length, or as soon as
 * a chunked body passes it, without being buffered further. Calls without a body (every GET) are
 * capped at 0.
 */
export class InternodeBodyCaps {
  /** The largest stored object (replica/object-codec.ts): every sibling a value of the largest size. */
  readonly objectBytes: number
  readonly #exact: ReadonlyMap<string, BodyCap>
  readonly #prefixed: ReadonlyArray<readonly [string, BodyCap]>

  constructor (settings: BodyLimitSettings) {
    const { maxValueBytes, maxHeaderBytes, partitions } = settings
    // A content type comes from a client's head too, so it is at most maxHeaderBytes.
    this.objectBytes = 16 + MAX_OBJECT_SIBLINGS * (maxValueBytes + maxHeaderBytes + SIBLING_FIELD_BYTES) +
      (DEFAULT_PRUNING.big + MAX_OBJECT_SIBLINGS) * CLOCK_ENTRY_BYTES
    const keyBytes = MAX_KEY_BYTES + 3 // a key as a string of the binary formats: varint length, then the bytes
    const shape = merkleShapeFor(partitions)
    const buckets = shape.fanout ** shape.depth
    const cap = (endpoint: string, bytes: number): BodyCap => ({ endpoint, bytes: Math.ceil(bytes) })
    this.#exact = new Map([
      [GOSSIP_PATH, cap('gossip', GOSSIP_BODY_LIMIT)],
      [GOSSIP_ENTRIES_PATH, cap('gossip entries', GOSSIP_BODY_LIMIT)],
      // Every partition number of the ring in JSON (at most 6 characters and a comma each) and one
      // key JSON-escaped (at most 6 characters a byte).
      [PARTITIONS_PATH, cap('partition page request', 256 + 7 * partitions + 6 * MAX_KEY_BYTES)],
      // A batch is sent once it reaches HANDOVER_KEYS keys or HANDOVER_BYTES of objects: at most that
      // less one byte, plus the object that passed it, plus the keys.
      [HANDOVER_PATH, cap('hand-over batch', HANDOVER_BYTES + this.objectBytes + HANDOVER_KEYS * keyBytes)],
      // The keys of one hand-over batch (HANDOVER_KEYS at most), each with its version hash.
      [OFFER_PATH, cap('hand-over offer', 16 + HANDOVER_KEYS * (keyBytes + VERSION_HASH_BYTES))],
      [ROOTS_PATH, cap('anti-entropy roots', varintList(partitions))], // at most every partition
      [NODES_PATH, cap('anti-entropy nodes', varintList(buckets))], // at most one level: no wider than the leaves
      [BUCKETS_PATH, cap('anti-entropy buckets', varintList(buckets))], // at most every leaf bucket
      [OBJECTS_PATH, cap('anti-entropy objects', 32 + READ_BATCH_KEYS * keyBytes)],
      [PARTITION_PATH, cap('anti-entropy partition page request', 32 + keyBytes)],
      // Sent once the batch's count reaches MERGE_BATCH_BYTES: at most that, plus the object that passed it.
      [MERGE_PATH, cap('anti-entropy merge batch', MERGE_BATCH_BYTES + keyBytes + this.objectBytes)],
      [FAULTS_PATH, cap('faults', FAULTS_BODY_LIMIT)],
      [RECOVERY_PATH, cap('recovery probe', RECOVERY_BODY_LIMIT)]
    ])
    this.#prefixed = [
      [REPLICAS_PATH, cap('replicas', this.objectBytes)], // PUT: one stored object
      // Everything a forwarded write carries came in one client request: one value, and a context
      // and content type from its head; plus the fixed fields (flags, counts, timeout).
      [WRITES_PATH, cap('writes', maxValueBytes + maxHeaderBytes + 64)],
      [ANTI_ENTROPY_PREFIX, cap('anti-entropy', 0)] // no other anti-entropy endpoint takes a body
    ]
  }

  /** The cap of a call of `method` to `path` (no query); 0 for GET and HEAD, and for paths no endpoint serves. */
  capFor (method: string, path: string): BodyCap {
    if (method === 'GET' || method === 'HEAD') return { endpoint: `${method} ${path}`, bytes: 0 }
    const exact = this.#exact.get(path)
    if (exact !== undefined) return exact
    return this.#prefixed.find(([prefix]) => path.startsWith(prefix))?.[1] ?? { endpoint: path, bytes: 0 }
  }
}
