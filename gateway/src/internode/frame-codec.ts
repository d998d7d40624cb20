/**
 * The frames of an internode frame connection (docs/architecture.md, "Internode transport"): a
 * connection is opened by one signed HTTP/1.1 upgrade (FRAMES_PATH, authenticated like any internode
 * call, its 101 answer signed like any answer), after which both sides exchange length-prefixed
 * frames, each carrying the call's sequence number and a MAC under a key of that connection alone.
 *
 *   u32     length of what follows
 *   u32     id: the call's sequence number on this connection (requests: 1, 2, 3, ... in order;
 *           an answer carries the id of the request it answers)
 *   ...     payload
 *   16 B    MAC: HMAC-SHA256(direction key, length | id | payload), first 16 bytes
 *
 * Request payload: string method | string path and query | string request id ('' for none) |
 *                  string content type ('' for none) | body (the rest)
 * Answer payload:  u16 status | string content type ('' for none) | body (the rest)
 * A string is a u16 byte length and UTF-8 bytes.
 *
 * The direction keys are derived from the cluster secret that verified the upgrade and from its
 * nonce, which the receiver's replay cache admits once: every connection has keys of its own, so a
 * frame captured on one is worth nothing on another, and the sequence number refuses it on its own.
 */
import { createHmac, hash, timingSafeEqual } from 'node:crypto'
import { INTERNODE_PREFIX } from './internode-protocol.js'

/** The upgrade that opens a frame connection; a GET signed like every internode call. */
export const FRAMES_PATH = `${INTERNODE_PREFIX}frames`

/** The Upgrade token of the protocol; bumped with any change of the layout above. */
export const FRAMES_PROTOCOL = 'levelring-frames/1'

/** Bytes of the MAC each frame ends with: 128 bits, as the causal contexts' MAC. */
export const FRAME_MAC_BYTES = 16

/** Bytes before the payload: length and id. */
export const FRAME_HEAD_BYTES = 8

const REQUEST_LABEL = 'levelring frames request v1'
const ANSWER_LABEL = 'levelring frames answer v1'

/** SHA-256's block: HMAC pads its key to it (RFC 2104). */
const BLOCK_BYTES = 64

/**
 * An HMAC-SHA256 key ready for one-shot hashing: the key XOR ipad and XOR opad blocks. HMAC is
 * H(K^opad | H(K^ipad | m)); computed with two one-shot hash() calls it costs a fraction of a
 * createHmac() object per frame, which profiles showed costing more than hashing a 10 KiB frame.
 */
export interface MacKey {
  readonly inner: Buffer
  readonly outer: Buffer
}

/** The keys of one connection: requests are MACed under one, answers under the other. */
export interface FrameKeys {
  readonly request: MacKey
  readonly answer: MacKey
}

/** The keys of the connection opened by the upgrade signed with `nonce` by `caller` for `target`, under request key `key`. */
export function frameKeys (key: Buffer, nonce: string, caller: string, target: string): FrameKeys {
  const derive = (label: string): MacKey => macKey(createHmac('sha256', key).update(`${label}\n${nonce}\n${caller}\n${target}`).digest())
  return { request: derive(REQUEST_LABEL), answer: derive(ANSWER_LABEL) }
}

/** `key` (at most a block) as a MacKey. */
export function macKey (key: Buffer): MacKey {
  if (key.length > BLOCK_BYTES) throw new RangeError('a frame key longer than a SHA-256 block')
  const inner = Buffer.alloc(BLOCK_BYTES, 0x36)
  const outer = Buffer.alloc(BLOCK_BYTES + 32, 0x5c)
  for (let i = 0; i < key.length; i++) { inner[i] = inner[i]! ^ key[i]!; outer[i] = outer[i]! ^ key[i]! }
  return { inner, outer }
}

/**
 * HMAC-SHA256 of `bytes.subarray(BLOCK_BYTES)`, whose first BLOCK_BYTES the caller leaves free (they are
 * overwritten with the inner key block, so the message is hashed where it lies, without a copy).
 */
function hmacInPlace (key: MacKey, bytes: Buffer): Buffer {
  key.inner.copy(bytes, 0)
  const inner = hash('sha256', bytes, 'buffer') as unknown as Buffer
  const outer = Buffer.from(key.outer)
  inner.copy(outer, BLOCK_BYTES)
  return hash('sha256', outer, 'buffer') as unknown as Buffer
}

/** A request carried by a frame. */
export interface FrameRequest {
  readonly method: string
  readonly path: string
  readonly requestId: string
  readonly contentType: string
  readonly body: Buffer
}

/** An answer carried by a frame. */
export interface FrameAnswer {
  readonly status: number
  readonly contentType: string
  readonly body: Buffer
}

export function encodeRequestFrame (key: MacKey, id: number, request: FrameRequest): Buffer {
  const strings = [request.method, request.path, request.requestId, request.contentType]
  let size = BLOCK_BYTES + FRAME_HEAD_BYTES + request.body.length + FRAME_MAC_BYTES
  for (const s of strings) {
    const n = Buffer.byteLength(s)
    if (n > 0xffff) throw new RangeError(`a frame string of ${n} bytes (at most 65535)`)
    size += 2 + n
  }
  const frame = Buffer.allocUnsafe(size)
  let at = BLOCK_BYTES + FRAME_HEAD_BYTES
  for (const s of strings) at = writeString(frame, at, s)
  request.body.copy(frame, at)
  return seal(key, frame, id)
}

export function encodeAnswerFrame (key: MacKey, id: number, answer: FrameAnswer): Buffer {
  const frame = Buffer.allocUnsafe(BLOCK_BYTES + FRAME_HEAD_BYTES + 2 + 2 + Buffer.byteLength(answer.contentType) + answer.body.length + FRAME_MAC_BYTES)
  frame.writeUInt16BE(answer.status, BLOCK_BYTES + FRAME_HEAD_BYTES)
  const at = writeString(frame, BLOCK_BYTES + FRAME_HEAD_BYTES + 2, answer.contentType)
  answer.body.copy(frame, at)
  return seal(key, frame, id)
}

const EMPTY_BYTES = Buffer.alloc(0)

/** A frame as the reader hands it out: in a buffer of its own, after BLOCK_BYTES free for the MAC's inner block. */
export interface ReceivedFrame {
  /** Free bytes, then the frame. */
  readonly bytes: Buffer
  /** The frame's id (a request's sequence number, or the id of the request an answer answers). */
  readonly id: number
  /**
   * Set on a frame longer than the reader's limit: its length. Its bytes were skipped, not read
   * (`bytes` is empty), so nothing of it is verified, its id included.
   */
  readonly skipped?: number
}

/** `frame` (head and MAC included) copied as the reader would hand it out. */
export function received (frame: Buffer): ReceivedFrame {
  const bytes = Buffer.allocUnsafe(BLOCK_BYTES + frame.length)
  frame.copy(bytes, BLOCK_BYTES)
  return { bytes, id: frame.length >= FRAME_HEAD_BYTES ? frame.readUInt32BE(4) : 0 }
}

/** The payload of a received frame whose MAC verifies under `key`; undefined when it does not. */
export function openReceived (key: MacKey, frame: ReceivedFrame): Buffer | undefined {
  const bytes = frame.bytes
  if (bytes.length < BLOCK_BYTES + FRAME_HEAD_BYTES + FRAME_MAC_BYTES) return undefined
  const end = bytes.length - FRAME_MAC_BYTES
  const mac = hmacInPlace(key, bytes.subarray(0, end)).subarray(0, FRAME_MAC_BYTES)
  if (!timingSafeEqual(mac, bytes.subarray(end))) return undefined
  return bytes.subarray(BLOCK_BYTES + FRAME_HEAD_BYTES, end)
}

/** The payload of a whole `frame` (head and MAC included) whose MAC verifies under `key`; undefined when it does not. */
export function openFrame (key: MacKey, frame: Buffer): Buffer | undefined {
  return openReceived(key, received(frame))
}

/** Decode a verified request payload; throws RangeError when it is not one. */
export function decodeRequest (payload: Buffer): FrameRequest {
  const cursor = { at: 0 }
  const method = readString(payload, cursor)
  const path = readString(payload, cursor)
  const requestId = readString(payload, cursor)
  const contentType = readString(payload, cursor)
  return { method, path, requestId, contentType, body: payload.subarray(cursor.at) }
}

/** Decode a verified answer payload; throws RangeError when it is not one. */
export function decodeAnswer (payload: Buffer): FrameAnswer {
  if (payload.length < 2) throw new RangeError('an answer frame shorter than its status')
  const cursor = { at: 2 }
  const contentType = readString(payload, cursor)
  return { status: payload.readUInt16BE(0), contentType, body: payload.subarray(cursor.at) }
}

/**
 * Splits a byte stream into whole frames: push() what arrived, take each frame it completes, copied
 * once into a buffer of its own (with the room openReceived needs). A frame longer than
 * `maxFrameBytes` is not held: its bytes are skipped as they arrive, and it is handed out as
 * `skipped` once they all did (so a call too large for the receiver can be refused like its HTTP
 * twin, with a 413, instead of costing the connection).
 */
export class FrameReader {
  readonly #maxFrameBytes: number
  readonly #chunks: Buffer[] = []
  /** Bytes of the first chunk already taken. */
  #offset = 0
  #buffered = 0
  /** The frame being skipped: its id and length, and how many of its bytes are still to come. */
  #skipping: { id: number, size: number, left: number } | undefined

  constructor (maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes
  }

  /** Add `chunk` and return the frames now complete. */
  push (chunk: Buffer): ReceivedFrame[] {
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
    const frames: ReceivedFrame[] = []
    for (;;) {
      const skipping = this.#skipping
      if (skipping !== undefined) {
        const n = Math.min(skipping.left, this.#buffered)
        this.#take(undefined, 0, n)
        skipping.left -= n
        if (skipping.left > 0) break
        this.#skipping = undefined
        frames.push({ bytes: EMPTY_BYTES, id: skipping.id, skipped: skipping.size })
        continue
      }
      if (this.#buffered < FRAME_HEAD_BYTES) break
      const size = 4 + this.#peekU32(0)
      if (size < FRAME_HEAD_BYTES + FRAME_MAC_BYTES) throw new RangeError(`a frame of ${size} bytes, shorter than its head and MAC`)
      const id = this.#peekU32(4)
      if (size > this.#maxFrameBytes) { this.#skipping = { id, size, left: size }; continue }
      if (this.#buffered < size) break
      const bytes = Buffer.allocUnsafe(BLOCK_BYTES + size)
      this.#take(bytes, BLOCK_BYTES, size)
      frames.push({ bytes, id })
    }
    return frames
  }

  /** The u32 `at` bytes into what is buffered (at + 4 <= buffered). */
  #peekU32 (at: number): number {
    let value = 0
    let chunk = 0
    let offset = this.#offset + at
    for (let i = 0; i < 4; i++) {
      while (offset >= this.#chunks[chunk]!.length) { offset -= this.#chunks[chunk++]!.length }
      value = value * 256 + this.#chunks[chunk]![offset++]!
    }
    return value
  }

  /** Move the next `n` buffered bytes into `target` at `at` (drop them without one). */
  #take (target: Buffer | undefined, at: number, n: number): void {
    while (n > 0) {
      const first = this.#chunks[0]!
      const end = Math.min(first.length, this.#offset + n)
      const copied = target === undefined ? end - this.#offset : first.copy(target, at, this.#offset, end)
      at += copied
      n -= copied
      this.#offset += copied
      this.#buffered -= copied
      if (this.#offset === first.length) { this.#chunks.shift(); this.#offset = 0 }
    }
  }
}

function seal (key: MacKey, bytes: Buffer, id: number): Buffer {
  const end = bytes.length - FRAME_MAC_BYTES
  bytes.writeUInt32BE(bytes.length - BLOCK_BYTES - 4, BLOCK_BYTES)
  bytes.writeUInt32BE(id, BLOCK_BYTES + 4)
  hmacInPlace(key, bytes.subarray(0, end)).copy(bytes, end, 0, FRAME_MAC_BYTES)
  return bytes.subarray(BLOCK_BYTES)
}

function writeString (frame: Buffer, at: number, s: string): number {
  const n = frame.write(s, at + 2, 'utf8')
  frame.writeUInt16BE(n, at)
  return at + 2 + n
}

function readString (payload: Buffer, cursor: { at: number }): string {
  if (cursor.at + 2 > payload.length) throw new RangeError('a frame ends inside a string length')
  const n = payload.readUInt16BE(cursor.at)
  const end = cursor.at + 2 + n
  if (end > payload.length) throw new RangeError('a frame ends inside a string')
  const s = payload.toString('utf8', cursor.at + 2, end)
  cursor.at = end
  return s
}
