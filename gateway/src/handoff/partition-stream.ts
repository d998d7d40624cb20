/**
 * Streaming partitions during a join or leave: a node that gains replicas of some partitions asks
 * a current replica of each for its keys, a page at a time. The engine is ordered by partition
 * (storage-keys.ts), so a page is a walk of the requested partitions' ranges from the cursor: a
 * source reads each partition it sends once, and no key of another partition. Keys come in engine
 * order (partition, then hash), the same on every replica, so a cursor taken from one source
 * resumes on another.
 *
 *   POST /internal/v1/partitions   PartitionPageRequest as JSON (sent as PAGE_MEDIA_TYPE: the
 *                                  internode client's post() names one type for both directions)
 *   200 PAGE_MEDIA_TYPE:
 *     u8      format (PAGE_FORMAT)
 *     u8      flags: bit 0 more pages follow
 *     [string next key to resume after]          when bit 0 is set (a key of the partitions asked)
 *     varint  count
 *     count x string key | bytes stored object (object codec)
 *
 *   POST /internal/v1/partitions/merge   PAGE_MEDIA_TYPE: a batch of keys a node hands over (it no
 *                                        longer replicates them): merged here, then fsynced once
 *     u8      format (PAGE_FORMAT) | varint count | count x string key | bytes stored object
 *   204 once every set is merged and the commit log fsynced
 *
 *   POST /internal/v1/partitions/offer   PAGE_MEDIA_TYPE: the keys of a hand-over batch, each with
 *                                        the version hash of the sender's stored set
 *                                        (anti-entropy/version-hash.ts), before their objects: a
 *                                        replica that streamed the partition (a joiner) or took the
 *                                        same writes holds most of them already
 *     u8      format (PAGE_FORMAT) | varint count | count x (string key | 20 bytes version hash)
 *   200 PAGE_MEDIA_TYPE, after an fsync of the commit log when it holds any of them in the offered
 *   version (the sender drops its copy of those next):
 *     u8      format (PAGE_FORMAT) | varint count | count x varint index (ascending) of a key whose
 *                                                    stored hash differs, or that it holds none of:
 *                                                    the objects to send to /partitions/merge
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { ByteReader, ByteWriter, malformedBytes } from '../encoding/bytes.js'
import { assertPartitionCount, partitionOf } from '../ring/partition.js'
import { partitionRange } from '../replica/storage-keys.js'
import { GatewayError } from '../error/gateway-error.js'
import type { InternodeClient } from '../internode/internode-client.js'
import { INTERNODE_PREFIX } from '../internode/internode-protocol.js'
import type { BodyReader, InternodeExtension } from '../internode/internode-routes.js'
import type { NodeStorage } from '../replica/node-storage.js'
import type { ReplicaStore } from '../replica/replica-store.js'
import { decodeObject, encodeObject } from '../replica/object-codec.js'
import type { StoredObject } from '../replica/stored-object.js'
import { versionHash } from '../anti-entropy/version-hash.js'

export const PARTITIONS_PATH = `${INTERNODE_PREFIX}partitions`
export const HANDOVER_PATH = `${INTERNODE_PREFIX}partitions/merge`
export const OFFER_PATH = `${INTERNODE_PREFIX}partitions/offer`
export const PAGE_MEDIA_TYPE = 'application/vnd.levelring.partition-page'

/** Bumped when the page layout changes. */
const PAGE_FORMAT = 1
const FLAG_MORE = 1
/** The source may be missing acknowledged writes of a partition of the page (it is rebuilding it). */
const FLAG_INCOMPLETE = 2

/** Keys per page at most. */
export const PAGE_KEYS = 500
/** Bytes of objects per page at most (a page may exceed it by one object). */
export const PAGE_BYTES = 4 * 1024 * 1024
/** Keys per hand-over batch at most (and HANDOVER_BYTES of objects, give or take one). */
export const HANDOVER_KEYS = 256
export const HANDOVER_BYTES = 4 * 1024 * 1024

/** Bytes of a version hash (SHA-1). */
export const VERSION_HASH_BYTES = 20

/** Per-page call timeout (ms). */
export const PAGE_TIMEOUT_MS = 15_000

/** One page's request. */
export interface PartitionPageRequest {
  readonly partitionCount: number
  readonly partitions: readonly number[]
  /** Resume after this key (the `next` of the previous page). */
  readonly after?: string
}

/** One page's answer. */
export interface PartitionPage {
  readonly entries: ReadonlyArray<{ readonly key: string, readonly object: StoredObject }>
  /** Set when more pages follow: pass it as `after`. */
  readonly next: string | undefined
  /** The source is rebuilding a partition of the page: it may lack acknowledged writes. */
  readonly incomplete?: boolean
  /** The page's size on the wire. */
  readonly bytes?: number
}

/** What a source counts of the pages it serves (GET /v1/cluster `transfers`). */
export class StreamCounters {
  /** Pages served to receivers. */
  pagesServed = 0
  /** Partitions whose walk a page began from their first key (a resumed walk does not count). */
  partitionsRead = 0
  /** Pages received from sources. */
  pagesFetched = 0
  /** Bytes of the pages served and received (page bodies). */
  bytesServed = 0
  bytesFetched = 0
  /** Keys and bytes merged here from hand-overs (a node that drops a partition pushes its keys to their replicas). */
  handoverKeysReceived = 0
  handoverBytesReceived = 0
  /** Keys offered here for hand-over that this node held in the offered version already (their objects were not sent). */
  offeredKeysHeld = 0
}

/**
 * The source side: a page of the stored objects of the requested partitions, walked in ascending
 * partition order from `after` (a key of one of them): the range of `after`'s partition from after
 * it, then the next partitions' ranges whole.
 */
export async function readPartitionPage (storage: Pick<NodeStorage, 'objectEntries'>, request: PartitionPageRequest, counters?: StreamCounters, rebuilding?: (p: number) => boolean): Promise<Buffer> {
  const q = request.partitionCount
  let partitions = [...new Set(request.partitions)].sort((a, b) => a - b)
  if (request.after !== undefined) {
    const from = partitionOf(request.after, q)
    partitions = partitions.filter((p) => p >= from)
  }
  const found: Array<[string, Uint8Array]> = []
  let bytes = 0
  let more = false
  walk: for (const [i, p] of partitions.entries()) {
    const resumed = i === 0 && request.after !== undefined && partitionOf(request.after, q) === p
    if (!resumed && counters !== undefined) counters.partitionsRead++
    for await (const entry of storage.objectEntries({ range: partitionRange(p, q), ...(resumed ? { after: request.after } : {}) })) {
      if (found.length >= PAGE_KEYS || bytes >= PAGE_BYTES) { more = true; break walk }
      found.push(entry)
      bytes += entry[1].length
    }
  }
  const incomplete = rebuilding !== undefined && partitions.some((p) => rebuilding(p))
  const w = new ByteWriter(64 * 1024 + bytes)
  w.u8(PAGE_FORMAT).u8((more ? FLAG_MORE : 0) | (incomplete ? FLAG_INCOMPLETE : 0))
  if (more) w.string(found[found.length - 1]![0])
  w.varint(found.length)
  for (const [key, value] of found) w.string(key).bytes(value)
  const page = w.finish()
  if (counters !== undefined) {
    counters.pagesServed++
    counters.bytesServed += page.length
  }
  return page
}

/** Decode a page; throws LEVELRING_MALFORMED_BYTES or LEVELRING_CORRUPT_OBJECT. */
export function decodePartitionPage (bytes: Uint8Array): PartitionPage {
  const r = new ByteReader(bytes)
  const format = r.u8()
  if (format !== PAGE_FORMAT) throw malformedBytes(`partition page format ${format}, this node reads ${PAGE_FORMAT}`, 0)
  const flags = r.u8()
  const more = (flags & FLAG_MORE) !== 0
  const next = more ? r.string() : undefined
  const count = r.varint()
  const entries: Array<{ key: string, object: StoredObject }> = []
  for (let i = 0; i < count; i++) {
    const key = r.string()
    entries.push({ key, object: decodeObject(key, r.bytes()) })
  }
  if (!r.done) throw malformedBytes('trailing bytes after a partition page', r.offset)
  return { entries, next, incomplete: (flags & FLAG_INCOMPLETE) !== 0, bytes: bytes.length }
}

/** The body of a page request (POST PARTITIONS_PATH, sent as PAGE_MEDIA_TYPE). */
export function encodePartitionPageRequest (request: PartitionPageRequest): Buffer {
  return Buffer.from(JSON.stringify(request))
}

/** Ask `node` for one page. */
export async function fetchPartitionPage (client: InternodeClient, node: string, request: PartitionPageRequest): Promise<PartitionPage> {
  const answer = await client.post(node, PARTITIONS_PATH, encodePartitionPageRequest(request), PAGE_MEDIA_TYPE, PAGE_TIMEOUT_MS)
  return decodePartitionPage(answer)
}

/** Encode a hand-over batch. */
export function encodeHandover (entries: ReadonlyArray<{ readonly key: string, readonly object: StoredObject }>): Buffer {
  const w = new ByteWriter(64 * 1024).u8(PAGE_FORMAT).varint(entries.length)
  for (const { key, object } of entries) w.string(key).bytes(encodeObject(object))
  return w.finish()
}

/** Decode a hand-over batch; throws LEVELRING_MALFORMED_BYTES or LEVELRING_CORRUPT_OBJECT. */
export function decodeHandover (bytes: Uint8Array): Array<{ key: string, object: StoredObject }> {
  const r = new ByteReader(bytes)
  const format = r.u8()
  if (format !== PAGE_FORMAT) throw malformedBytes(`hand-over format ${format}, this node reads ${PAGE_FORMAT}`, 0)
  const count = r.varint()
  const entries: Array<{ key: string, object: StoredObject }> = []
  for (let i = 0; i < count; i++) {
    const key = r.string()
    entries.push({ key, object: decodeObject(key, r.bytes()) })
  }
  if (!r.done) throw malformedBytes('trailing bytes after a hand-over batch', r.offset)
  return entries
}

/** A key to hand over: its stored set and that set's version hash (versionHash of its stored bytes). */
export interface HandoverEntry {
  readonly key: string
  readonly object: StoredObject
  readonly hash: Uint8Array
}

/** Encode an offer: each key with its version hash. */
export function encodeOffer (entries: ReadonlyArray<{ readonly key: string, readonly hash: Uint8Array }>): Buffer {
  const w = new ByteWriter(16 + entries.length * 64).u8(PAGE_FORMAT).varint(entries.length)
  for (const { key, hash } of entries) {
    if (hash.length !== VERSION_HASH_BYTES) throw new RangeError(`a version hash is ${VERSION_HASH_BYTES} bytes, not ${hash.length}`)
    w.string(key).raw(hash)
  }
  return w.finish()
}

/** Decode an offer; throws LEVELRING_MALFORMED_BYTES. */
export function decodeOffer (bytes: Uint8Array): Array<{ key: string, hash: Buffer }> {
  const r = new ByteReader(bytes)
  const format = r.u8()
  if (format !== PAGE_FORMAT) throw malformedBytes(`offer format ${format}, this node reads ${PAGE_FORMAT}`, 0)
  const count = r.varint()
  const entries: Array<{ key: string, hash: Buffer }> = []
  for (let i = 0; i < count; i++) entries.push({ key: r.string(), hash: Buffer.from(r.raw(VERSION_HASH_BYTES)) })
  if (!r.done) throw malformedBytes('trailing bytes after an offer', r.offset)
  return entries
}

/** Encode an offer's answer: the ascending indexes of the offered keys whose objects the receiver wants. */
export function encodeWanted (indexes: readonly number[]): Buffer {
  const w = new ByteWriter(16 + indexes.length * 3).u8(PAGE_FORMAT).varint(indexes.length)
  for (const i of indexes) w.varint(i)
  return w.finish()
}

/** Decode an offer's answer to an offer of `offered` keys; throws LEVELRING_MALFORMED_BYTES. */
export function decodeWanted (bytes: Uint8Array, offered: number): number[] {
  const r = new ByteReader(bytes)
  const format = r.u8()
  if (format !== PAGE_FORMAT) throw malformedBytes(`offer answer format ${format}, this node reads ${PAGE_FORMAT}`, 0)
  const count = r.varint()
  const indexes: number[] = []
  for (let i = 0; i < count; i++) {
    const index = r.varint()
    // Ascending and in range: an answer naming a key twice or one not offered is not one of ours.
    if (index >= offered || (indexes.length > 0 && index <= indexes[indexes.length - 1]!)) {
      throw malformedBytes(`offer answer names key ${index} of ${offered} out of order`, r.offset)
    }
    indexes.push(index)
  }
  if (!r.done) throw malformedBytes('trailing bytes after an offer answer', r.offset)
  return indexes
}

/**
 * True when a failed offer was answered by the peer, but not as an offer: a node without the offer
 * endpoint (an older release answers 404, or 413 for a body on a path it caps at 0). Such a peer gets
 * every object. A call that got no answer (refused, timed out) fails the hand-over instead: sending
 * the objects would only fail the same way, later.
 */
function answeredWithoutOffer (err: unknown): boolean {
  if (!(err instanceof GatewayError)) return false
  if (err.code !== 'LEVELRING_REPLICA_UNREACHABLE') return true
  return /^it answered \d{3} /.test(String(err.details?.reason ?? ''))
}

/**
 * Hand keys over to `node`: resolves once it holds every one durably in the offered version or one
 * merged from it. The version hashes go first (OFFER_PATH); only the objects whose stored hash
 * differs there (an older, newer or concurrent set, or none) follow, merged and fsynced. Returns
 * how many objects were sent.
 */
export async function handOver (client: InternodeClient, node: string, entries: readonly HandoverEntry[]): Promise<number> {
  let wanted: readonly HandoverEntry[]
  try {
    const answer = await client.post(node, OFFER_PATH, encodeOffer(entries), PAGE_MEDIA_TYPE, PAGE_TIMEOUT_MS)
    wanted = decodeWanted(answer, entries.length).map((i) => entries[i]!)
  } catch (err) {
    if (!answeredWithoutOffer(err)) throw err
    wanted = entries
  }
  if (wanted.length > 0) await client.post(node, HANDOVER_PATH, encodeHandover(wanted), PAGE_MEDIA_TYPE, PAGE_TIMEOUT_MS)
  return wanted.length
}

/** What the endpoints need of the node: its storage to walk, its store to merge into, a way to fsync. */
export interface PartitionStreamRouteOptions {
  readonly storage: Pick<NodeStorage, 'objectEntries'>
  /** Where served pages and received hand-overs are counted. */
  readonly counters?: StreamCounters
  /** True while this node is rebuilding partition p (anti-entropy/partition-recovery.ts): its pages say so. */
  readonly rebuilding?: (p: number) => boolean
  readonly store: ReplicaStore
  /** Make every write so far durable (one fsynced write: the commit log is one sequence). */
  readonly syncLog: () => Promise<void>
  /** Largest hand-over or offer body accepted. */
  readonly maxBodyBytes: number
}

/** The internode endpoints of partition streaming and hand-over. */
export function partitionStreamRoute (options: PartitionStreamRouteOptions): InternodeExtension {
  const { storage, store } = options
  return {
    prefix: PARTITIONS_PATH,
    handle: async (req: IncomingMessage, res: ServerResponse, path: string, readBody: BodyReader) => {
      if (path === HANDOVER_PATH && req.method === 'POST') {
        const body = await readBody(options.maxBodyBytes)
        let entries: Array<{ key: string, object: StoredObject }>
        try {
          entries = decodeHandover(body)
        } catch (err) {
          throw new GatewayError('LEVELRING_INVALID_PARAMETER', `the body is not a hand-over batch: ${(err as Error).message}`, { parameter: 'body' })
        }
        for (let i = 0; i < entries.length; i += 16) {
          await Promise.all(entries.slice(i, i + 16).map(async ({ key, object }) => { await store.merge(key, object, { sync: false }) }))
        }
        await options.syncLog()
        if (options.counters !== undefined) {
          options.counters.handoverKeysReceived += entries.length
          options.counters.handoverBytesReceived += body.length
        }
        res.writeHead(204).end()
        return
      }
      if (path === OFFER_PATH && req.method === 'POST') {
        const body = await readBody(options.maxBodyBytes)
        let offered: Array<{ key: string, hash: Buffer }>
        try {
          offered = decodeOffer(body)
        } catch (err) {
          throw new GatewayError('LEVELRING_INVALID_PARAMETER', `the body is not a hand-over offer: ${(err as Error).message}`, { parameter: 'body' })
        }
        const wanted: number[] = []
        for (let i = 0; i < offered.length; i += 16) {
          const held = await Promise.all(offered.slice(i, i + 16).map(async ({ key, hash }) => {
            const stored = await store.readEncoded(key)
            // Held only as the very same versions: an older, newer or concurrent set takes the object's merge.
            return stored !== undefined && versionHash(stored).equals(hash)
          }))
          held.forEach((h, j) => { if (!h) wanted.push(i + j) })
        }
        // A key answered as held is dropped by the sender next: what this node holds of it must survive a crash.
        if (wanted.length < offered.length) await options.syncLog()
        if (options.counters !== undefined) options.counters.offeredKeysHeld += offered.length - wanted.length
        const answer = encodeWanted(wanted)
        res.writeHead(200, { 'Content-Type': PAGE_MEDIA_TYPE, 'Content-Length': String(answer.length) }).end(answer)
        return
      }
      if (path !== PARTITIONS_PATH || req.method !== 'POST') {
        throw new GatewayError('LEVELRING_ROUTE_NOT_FOUND', `no internode endpoint ${req.method ?? ''} ${path}; use POST ${PARTITIONS_PATH}, ${OFFER_PATH} or ${HANDOVER_PATH}`)
      }
      const request = parseRequest(await readBody(1024 * 1024))
      const page = await readPartitionPage(storage, request, options.counters, options.rebuilding)
      res.writeHead(200, { 'Content-Type': PAGE_MEDIA_TYPE, 'Content-Length': String(page.length) }).end(page)
    }
  }
}

function parseRequest (body: Buffer): PartitionPageRequest {
  let parsed: Partial<PartitionPageRequest>
  try {
    const json: unknown = JSON.parse(body.toString('utf8'))
    // JSON null (or any non-object) is as wrong as text that is not JSON: refused below, not a TypeError (500).
    parsed = json !== null && typeof json === 'object' ? json as Partial<PartitionPageRequest> : {}
  } catch {
    parsed = {}
  }
  const bad = (why: string): GatewayError => new GatewayError('LEVELRING_INVALID_PARAMETER', `the body is not a partition page request: ${why}`, { parameter: 'body' })
  const q = parsed.partitionCount
  try {
    assertPartitionCount(q as number)
  } catch (err) {
    throw bad((err as Error).message)
  }
  if (!Array.isArray(parsed.partitions) || !parsed.partitions.every((p) => Number.isInteger(p) && p >= 0 && p < q!)) {
    throw bad(`partitions must be a list of partition numbers below ${String(q)}`)
  }
  if (parsed.after !== undefined && typeof parsed.after !== 'string') throw bad('after must be a key')
  return { partitionCount: q!, partitions: parsed.partitions, ...(parsed.after === undefined ? {} : { after: parsed.after }) }
}
