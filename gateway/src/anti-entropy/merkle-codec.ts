/**
 * Byte formats of the two answers of an anti-entropy exchange: a list of Merkle node hashes and a
 * list of buckets' entries. All integers are big-endian.
 *
 * Node hashes: the 20-byte hashes back to back (the count is the length / 20).
 * Bucket entries: bucket count u32, then per bucket: entry count u32 and its entries, each
 *   key length u32 | key | value hash length u8 | value hash
 * A damaged answer is refused (CLUSTER_CORRUPT_MERKLE) with the offset, rather than trusted.
 */
import { GatewayError } from '../error/gateway-error.js'
import { MERKLE_HASH_BYTES, type MerkleEntry } from './merkle-tree.js'

function corrupt (what: string, offset: number, why: string): GatewayError {
  return new GatewayError('CLUSTER_CORRUPT_MERKLE', `${what} is damaged at byte ${offset}: ${why}; discard it and rebuild the tree from the partition's keys`)
}

/** Sequential reader that names the offset of any overrun. */
class Reader {
  offset = 0
  constructor (readonly buf: Buffer, readonly what: string) {}

  need (n: number): void {
    if (this.offset + n > this.buf.length) throw corrupt(this.what, this.offset, `needs ${n} more bytes, ${this.buf.length - this.offset} left`)
  }

  u8 (): number { this.need(1); return this.buf.readUInt8(this.offset++) }
  u16 (): number { this.need(2); const v = this.buf.readUInt16BE(this.offset); this.offset += 2; return v }
  u32 (): number { this.need(4); const v = this.buf.readUInt32BE(this.offset); this.offset += 4; return v }
  bytes (n: number): Buffer { this.need(n); const v = Buffer.from(this.buf.subarray(this.offset, this.offset + n)); this.offset += n; return v }

  entry (): MerkleEntry {
    const key = this.bytes(this.u32())
    const at = this.offset
    const hashLength = this.u8()
    if (hashLength === 0) throw corrupt(this.what, at, 'a value hash has length 0')
    return { key, valueHash: this.bytes(hashLength) }
  }
}

function entryBytes (e: MerkleEntry): number {
  return 4 + e.key.length + 1 + e.valueHash.length
}

function writeEntry (buf: Buffer, at: number, e: MerkleEntry): number {
  at = buf.writeUInt32BE(e.key.length, at)
  at += e.key.copy(buf, at)
  at = buf.writeUInt8(e.valueHash.length, at)
  return at + e.valueHash.copy(buf, at)
}

/** Node hashes back to back. */
export function encodeNodeHashes (hashes: readonly Buffer[]): Buffer {
  for (const h of hashes) {
    if (h.length !== MERKLE_HASH_BYTES) throw new GatewayError('CLUSTER_INVALID_OPTION', `a Merkle node hash is ${MERKLE_HASH_BYTES} bytes, got ${h.length}`)
  }
  return Buffer.concat(hashes)
}

/** The hashes of encodeNodeHashes' output. */
export function decodeNodeHashes (buf: Buffer): Buffer[] {
  if (buf.length % MERKLE_HASH_BYTES !== 0) throw corrupt('Merkle node hash list', buf.length - (buf.length % MERKLE_HASH_BYTES), `length ${buf.length} is not a multiple of ${MERKLE_HASH_BYTES}`)
  const out: Buffer[] = []
  for (let at = 0; at < buf.length; at += MERKLE_HASH_BYTES) out.push(Buffer.from(buf.subarray(at, at + MERKLE_HASH_BYTES)))
  return out
}

/** Several buckets' entries, in order. */
export function encodeBucketEntries (buckets: ReadonlyArray<readonly MerkleEntry[]>): Buffer {
  const size = 4 + buckets.reduce((sum, b) => sum + 4 + b.reduce((s, e) => s + entryBytes(e), 0), 0)
  const buf = Buffer.allocUnsafe(size)
  let at = buf.writeUInt32BE(buckets.length, 0)
  for (const bucket of buckets) {
    at = buf.writeUInt32BE(bucket.length, at)
    for (const e of bucket) at = writeEntry(buf, at, e)
  }
  return buf
}

/** The buckets of encodeBucketEntries' output. */
export function decodeBucketEntries (buf: Buffer): MerkleEntry[][] {
  const r = new Reader(buf, 'Merkle bucket list')
  const buckets: MerkleEntry[][] = []
  for (let count = r.u32(), b = 0; b < count; b++) {
    const bucket: MerkleEntry[] = []
    for (let n = r.u32(), i = 0; i < n; i++) bucket.push(r.entry())
    buckets.push(bucket)
  }
  if (r.offset !== buf.length) throw corrupt('Merkle bucket list', r.offset, `${buf.length - r.offset} trailing bytes`)
  return buckets
}
