import { ByteReader, ByteWriter } from '../encoding/bytes.js'
import { GatewayError, hasCode } from '../error/gateway-error.js'
import type { ActorId, ClockEntry, Sibling } from '../version/dvv.js'
import type { StoredObject, StoredVersion } from './stored-object.js'

/**
 * The binary form of a StoredObject, as the engine stores it under the key (and as replicas will
 * exchange it). Canonical: equal sets encode to equal bytes (clock sorted by actor, siblings by dot),
 * so a hash of these bytes can stand for the set in a Merkle tree.
 *
 *   u8      format (OBJECT_FORMAT)
 *   varint  clock entry count E
 *   E x     string actor | varint counter | varint timestamp (ms, 0 = unknown)
 *   varint  sibling count S
 *   S x     varint actor index (into the clock) | varint counter | u8 flags (bit 0: tombstone)
 *           | varint lastModified (ms) | string contentType | bytes value
 *
 * strings and bytes are a varint length then the bytes. No checksum here: the engine already
 * checksums every WAL record and SSTable block that holds these bytes.
 */

/** Bumped when the layout above changes; decoders refuse formats they do not know. */
export const OBJECT_FORMAT = 1

const FLAG_TOMBSTONE = 1

/** What decodeObject throws when stored bytes do not decode: LEVELRING_CORRUPT_OBJECT, naming the key so an operator can find it. */
export function corruptObject (key: string, reason: string, options?: { cause?: unknown }): GatewayError {
  return new GatewayError('LEVELRING_CORRUPT_OBJECT', `stored object for key ${JSON.stringify(key)} does not decode: ${reason}; ` +
    'repair it from another replica or delete the key', { key }, options)
}

/** Encode a set; every sibling's actor must appear in the clock (the DVV invariant). */
export function encodeObject (object: StoredObject): Buffer {
  const actorIndex = new Map<ActorId, number>()
  const w = new ByteWriter(64 + object.siblings.reduce((n, s) => n + s.value.value.length + 32, 0))
  w.u8(OBJECT_FORMAT).varint(object.clock.size)
  for (const [actor, entry] of object.clock) {
    actorIndex.set(actor, actorIndex.size)
    w.string(actor).varint(entry.counter).varint(entry.timestamp)
  }
  w.varint(object.siblings.length)
  for (const { dot, value } of object.siblings) {
    const index = actorIndex.get(dot.actor)
    if (index === undefined) throw new RangeError(`sibling dot ${dot.actor}:${dot.counter} has no clock entry`)
    w.varint(index).varint(dot.counter).u8(value.tombstone ? FLAG_TOMBSTONE : 0)
      .varint(value.lastModified).string(value.contentType).bytes(value.value)
  }
  return w.finish()
}

/**
 * Decode what encodeObject wrote; throws LEVELRING_CORRUPT_OBJECT (naming `key`) on any inconsistency.
 * `copyValues` false makes the values views of `bytes`, for a caller whose buffer is its own (a
 * received call's body), saving a copy of every value.
 */
export function decodeObject (key: string, bytes: Uint8Array, copyValues = true): StoredObject {
  try {
    const r = new ByteReader(bytes)
    const format = r.u8()
    if (format !== OBJECT_FORMAT) throw corruptObject(key, `unknown format ${format}`)
    const actors: ActorId[] = []
    const clock = new Map<ActorId, ClockEntry>()
    const entries = r.varint()
    for (let i = 0; i < entries; i++) {
      const actor = r.string()
      const counter = r.varint()
      const timestamp = r.varint()
      if (clock.has(actor)) throw corruptObject(key, `actor ${actor} twice in the clock`)
      actors.push(actor)
      clock.set(actor, { counter, timestamp })
    }
    const count = r.varint()
    const siblings: Sibling<StoredVersion>[] = []
    for (let i = 0; i < count; i++) {
      const index = r.varint()
      const actor = actors[index]
      if (actor === undefined) throw corruptObject(key, `sibling ${i} names actor #${index} of ${actors.length}`)
      const counter = r.varint()
      if (counter > clock.get(actor)!.counter) throw corruptObject(key, `sibling ${i} is newer than the clock`)
      const flags = r.u8()
      const lastModified = r.varint()
      const contentType = r.string()
      // A copy that owns its memory: the engine's buffer may be shared (pooled or cached block), and
      // Buffer#slice would only make a view.
      const value = copyValues ? new Uint8Array(r.bytes()) : r.bytes()
      siblings.push({
        dot: { actor, counter },
        value: { tombstone: (flags & FLAG_TOMBSTONE) !== 0, contentType, lastModified, value }
      })
    }
    if (!r.done) throw corruptObject(key, `${bytes.length - r.offset} trailing bytes`)
    return { clock, siblings }
  } catch (err) {
    if (hasCode(err, 'LEVELRING_MALFORMED_BYTES')) throw corruptObject(key, err.message, { cause: err })
    throw err
  }
}
