import { createHmac } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import {
  decodeAnswer, decodeRequest, encodeAnswerFrame, encodeRequestFrame, FRAME_MAC_BYTES, FrameReader, frameKeys, macKey, openFrame, type ReceivedFrame
} from '../../../gateway/src/internode/frame-codec.js'
import { InternodeAuth } from '../../../gateway/src/internode/internode-auth.js'

const KEY = createHmac('sha256', 'a cluster secret').update('levelring internode request v1').digest()
const keys = frameKeys(KEY, 'nonce-of-the-upgrade-1', 'node1', 'node2')
const request = { method: 'PUT', path: '/internal/v1/replicas/k%C3%A9y?sync=1', requestId: 'req-1', contentType: 'application/vnd.levelring.object', body: Buffer.alloc(10_240, 9) }

describe('frame codec', () => {
  test('a frame\'s MAC is the first 128 bits of HMAC-SHA256 over its length, id and payload', () => {
    const raw = Buffer.from('k'.repeat(32))
    const frame = encodeAnswerFrame(macKey(raw), 7, { status: 200, contentType: 'x', body: Buffer.from('hello') })
    const end = frame.length - FRAME_MAC_BYTES
    expect(frame.subarray(end)).toEqual(createHmac('sha256', raw).update(frame.subarray(0, end)).digest().subarray(0, FRAME_MAC_BYTES))
    expect(frame.readUInt32BE(0)).toBe(frame.length - 4)
    expect(frame.readUInt32BE(4)).toBe(7)
  })

  test('request and answer frames decode to what was encoded once their MAC verifies', () => {
    const frame = encodeRequestFrame(keys.request, 1, request)
    const payload = openFrame(keys.request, frame)!
    expect(decodeRequest(payload)).toEqual(request)
    const answer = { status: 203, contentType: 'application/vnd.levelring.object', body: Buffer.from([1, 2, 3]) }
    expect(decodeAnswer(openFrame(keys.answer, encodeAnswerFrame(keys.answer, 1, answer))!)).toEqual(answer)
    expect(decodeAnswer(openFrame(keys.answer, encodeAnswerFrame(keys.answer, 2, { status: 204, contentType: '', body: Buffer.alloc(0) }))!))
      .toEqual({ status: 204, contentType: '', body: Buffer.alloc(0) })
  })

  test('a frame with any byte changed, under the other direction\'s key, or of another connection does not open', () => {
    const frame = encodeRequestFrame(keys.request, 1, request)
    for (const at of [0, 4, 9, 40, frame.length - 100, frame.length - 1]) {
      const altered = Buffer.from(frame)
      altered[at] = altered[at]! ^ 1
      expect(openFrame(keys.request, altered), `byte ${at}`).toBeUndefined()
    }
    expect(openFrame(keys.answer, frame)).toBeUndefined()
    // Another upgrade (nonce), caller, target or secret: other keys.
    for (const other of [frameKeys(KEY, 'nonce-of-the-upgrade-2', 'node1', 'node2'), frameKeys(KEY, 'nonce-of-the-upgrade-1', 'node3', 'node2'),
      frameKeys(KEY, 'nonce-of-the-upgrade-1', 'node1', 'node3'), frameKeys(Buffer.alloc(32, 1), 'nonce-of-the-upgrade-1', 'node1', 'node2')]) {
      expect(openFrame(other.request, frame)).toBeUndefined()
    }
    expect(openFrame(keys.request, frame.subarray(0, 10))).toBeUndefined()
  })

  test('caller and callee derive the same keys, under whichever of the callee\'s secrets verified the upgrade', () => {
    const caller = new InternodeAuth([Buffer.from('the newest secret, 0123456789')], 'node1')
    const callee = new InternodeAuth([Buffer.from('an older secret, 0123456789'), Buffer.from('the newest secret, 0123456789')], 'node2')
    const headers = caller.signRequest('GET', '/internal/v1/frames', undefined, 'node2')
    const checked = callee.checkRequest('GET', '/internal/v1/frames', headers)
    if (typeof checked === 'string') throw new Error(checked)
    expect(checked.secret).toBe(1)
    const ours = caller.callerFrameKeys(headers['x-levelring-nonce']!, 'node2')
    const theirs = callee.acceptedFrameKeys(checked)
    expect(decodeRequest(openFrame(theirs.request, encodeRequestFrame(ours.request, 1, request))!)).toEqual(request)
    expect(openFrame(ours.answer, encodeAnswerFrame(theirs.answer, 1, { status: 404, contentType: '', body: Buffer.alloc(0) }))).toBeDefined()
  })

  test('the reader cuts a byte stream into whole frames however it arrives, and skips a frame longer than its limit', () => {
    const frames = [1, 2, 3].map((id) => encodeRequestFrame(keys.request, id, { ...request, body: Buffer.alloc(id * 3_000, id) }))
    const stream = Buffer.concat(frames)
    for (const size of [1, 7, 4_096, stream.length]) {
      const reader = new FrameReader(1 << 20)
      const out: ReceivedFrame[] = []
      for (let at = 0; at < stream.length; at += size) out.push(...reader.push(stream.subarray(at, at + size)))
      expect(out.map((f) => Buffer.from(f.bytes.subarray(64))), `chunks of ${size}`).toEqual(frames)
      expect(out.map((f) => f.id)).toEqual([1, 2, 3])
    }
    // A frame over the limit is skipped as it streams by, never held, and named with its id; the next one reads as usual.
    const small = new FrameReader(5_000)
    const out = [...small.push(stream.subarray(0, 4_000)), ...small.push(stream.subarray(4_000, 12_000)), ...small.push(stream.subarray(12_000))]
    expect(out.map((f) => [f.id, f.skipped, f.bytes.length])).toEqual([[1, undefined, 64 + frames[0]!.length], [2, frames[1]!.length, 0], [3, frames[2]!.length, 0]])
  })
})
