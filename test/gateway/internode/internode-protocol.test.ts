import { expect, test } from 'vitest'
import {
  decodeForwardedWrite, decodeWriteResult, encodeForwardedWrite, encodeWriteResult, type ForwardedWrite
} from '../../../gateway/src/internode/internode-protocol.js'
import { NOTHING_SEEN } from '../../../gateway/src/version/dvv.js'

// The binary bodies of forwarded writes and their results survive the trip in every shape
// (value or delete, context or "current"), and bytes that are not one are refused, never guessed.

const counts = { w: 2, dw: 1, pw: 0, timeoutMs: 4_321 }
const context = { vv: new Map([['a@1', 7], ['b@2', 123_456_789_012]]), unseen: [{ actor: 'a@1', counter: 5 }] }
const value = { contentType: 'application/json; charset=utf-8', value: Buffer.from('{"x":1}') }

test('forwarded writes round-trip: value or delete, with a context, none, or the current versions', () => {
  const shapes: ForwardedWrite[] = [
    { value, supersedes: context, counts },
    { value, supersedes: NOTHING_SEEN, counts },
    { value: null, supersedes: 'current', counts },
    { value: null, supersedes: context, counts },
    { value: { contentType: '', value: new Uint8Array(0) }, supersedes: 'current', counts: { w: 0, dw: 0, pw: 0, timeoutMs: 1 } }
  ]
  for (const write of shapes) {
    const back = decodeForwardedWrite(encodeForwardedWrite(write))
    expect(back.counts).toEqual(write.counts)
    expect(back.supersedes).toEqual(write.supersedes)
    expect(back.value === null ? null : { contentType: back.value.contentType, value: Buffer.from(back.value.value) })
      .toEqual(write.value === null ? null : { contentType: write.value.contentType, value: Buffer.from(write.value.value) })
  }
})

test('write results round-trip; truncated, extended or foreign bytes are refused', () => {
  const object = {
    clock: new Map([['n1@abc', { counter: 10_001, timestamp: 1_700_000_000_000 }]]),
    siblings: [{ dot: { actor: 'n1@abc', counter: 10_001 }, value: { tombstone: false, contentType: 'text/plain', lastModified: 1_700_000_000_000, value: new Uint8Array(Buffer.from('hi')) } }]
  }
  const result = { object, dot: { actor: 'n1@abc', counter: 10_001 } }
  expect(decodeWriteResult('k', encodeWriteResult(result))).toEqual(result)

  const bytes = encodeForwardedWrite({ value, supersedes: context, counts })
  for (let cut = 0; cut < bytes.length; cut++) {
    expect(() => decodeForwardedWrite(bytes.subarray(0, cut)), `cut at ${cut}`).toThrow(expect.objectContaining({ code: 'LEVELRING_MALFORMED_BYTES' }))
  }
  expect(() => decodeForwardedWrite(Buffer.concat([bytes, Buffer.from([0])]))).toThrow(/trailing/)
  const future = Buffer.from(bytes)
  future[0] = 9
  expect(() => decodeForwardedWrite(future)).toThrow(/wire format 9/)
})
