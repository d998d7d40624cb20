import { createHash } from 'node:crypto'
import { ByteReader, ByteWriter } from '../encoding/bytes.js'

/**
 * The Merkle leaf value of one key: SHA-1 of the object codec's canonical bytes of the stored set
 * (replica/object-codec.ts), with the clock's timestamps written as 0. Two replicas get the same
 * hash exactly when they hold the same versions: the same clock counters and sibling dots (a dot
 * names one write, so values, content types and tombstone flags follow). Clock timestamps only
 * steer pruning and may differ between replicas holding the same versions (a context folded in at
 * one replica carries none), and ReplicaStore.merge stores nothing when only they differ: hashing
 * them would make anti-entropy exchange such a key on every round without ever converging.
 *
 * Computed from the stored bytes without decoding them (a tree build hashes every key the node
 * holds): the codec's layout starts with the clock,
 *   u8 format | varint E | E x (string actor | varint counter | varint timestamp) | siblings...
 * so only the E timestamps are rewritten and the rest is hashed as it is stored. The result equals
 * SHA-1(encodeObject(the set with every clock timestamp 0)), which test/gateway/anti-entropy checks.
 * Throws LEVELRING_MALFORMED_BYTES for bytes that are not an object's encoding.
 */
export function versionHash (stored: Uint8Array): Buffer {
  const r = new ByteReader(stored)
  const format = r.u8()
  const entries = r.varint()
  const head = new ByteWriter(16 + entries * 24).u8(format).varint(entries)
  for (let i = 0; i < entries; i++) {
    head.bytes(r.bytes()).varint(r.varint())
    r.varint() // the timestamp, hashed as 0
    head.varint(0)
  }
  return createHash('sha1').update(head.finish()).update(stored.subarray(r.offset)).digest()
}
