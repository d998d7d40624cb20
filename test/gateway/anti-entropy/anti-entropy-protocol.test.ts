import { expect, test } from 'vitest'
import {
  ANTI_ENTROPY_FORMAT,
  decodeBucketsRequest, decodeKeys, decodeMergeRequest, decodeNodesRequest, decodeObjectsAnswer, decodePartitionPage,
  decodePartitionRequest, decodeRootsAnswer, decodeRootsRequest, encodeBucketsRequest, encodeKeys, encodeMergeRequest,
  encodeNodesRequest, encodeObjectsAnswer, encodePartitionPage, encodePartitionRequest, encodeRootsAnswer, encodeRootsRequest
} from '../../../gateway/src/anti-entropy/anti-entropy-protocol.js'
import { encodeObject } from '../../../gateway/src/replica/object-codec.js'
import type { StoredObject } from '../../../gateway/src/replica/stored-object.js'

// The anti-entropy wire messages round-trip, and bytes that are not one are refused (the routes answer 400).

const object: StoredObject = {
  clock: new Map([['a@1', { counter: 9, timestamp: 1_700_000_000_000 }]]),
  siblings: [{ dot: { actor: 'a@1', counter: 9 }, value: { tombstone: false, contentType: 'text/plain', lastModified: 1_700_000_000_000, value: new Uint8Array(Buffer.from('héllo')) } }]
}

test('requests and answers round-trip', () => {
  const shape = { fanout: 16, depth: 2 }
  expect(decodeRootsRequest(encodeRootsRequest({ shape, partitions: [0, 5, 511] }))).toEqual({ shape, partitions: [0, 5, 511] })
  const root = Buffer.alloc(20, 7)
  expect(decodeRootsAnswer(encodeRootsAnswer([root, 'not-replica', 'not-ready']), 3)).toEqual([root, 'not-replica', 'not-ready'])
  expect(decodeNodesRequest(encodeNodesRequest({ partition: 300, level: 2, indices: [0, 17, 255] }))).toEqual({ partition: 300, level: 2, indices: [0, 17, 255] })
  expect(decodeBucketsRequest(encodeBucketsRequest({ partition: 1, buckets: [3, 4] }))).toEqual({ partition: 1, buckets: [3, 4] })
  expect(decodeKeys(encodeKeys(['a', 'ké/y', '']))).toEqual(['a', 'ké/y', ''])
  expect(decodeObjectsAnswer(encodeObjectsAnswer([{ key: 'a', bytes: encodeObject(object) }, { key: 'b', bytes: undefined }]), ['a', 'b'])).toEqual([object, undefined])
  expect(decodeMergeRequest(encodeMergeRequest([{ key: 'k', object }]))).toEqual([{ key: 'k', object }])
  const request = { partition: 7, from: { bucket: 12, after: 'ké' }, maxKeys: 500 }
  expect(decodePartitionRequest(encodePartitionRequest(request))).toEqual(request)
  const page = { objects: [{ key: 'k', bytes: encodeObject(object) }], next: { bucket: 3, after: 'k' } }
  expect(decodePartitionPage(encodePartitionPage(page))).toEqual({ objects: [{ key: 'k', object }], next: { bucket: 3, after: 'k' } })
  expect(decodePartitionPage(encodePartitionPage({ objects: [], next: undefined }))).toEqual({ objects: [], next: undefined })
})

test('another format, trailing bytes, a truncated body or a forged count are refused', () => {
  const good = encodeKeys(['a', 'b'])
  const otherFormat = Buffer.from(good)
  otherFormat[0] = 99
  expect(() => decodeKeys(otherFormat)).toThrow(/format 99/)
  expect(() => decodeKeys(Buffer.concat([good, Buffer.from([0])]))).toThrow(expect.objectContaining({ code: 'LEVELRING_MALFORMED_BYTES' }))
  expect(() => decodeKeys(good.subarray(0, good.length - 1))).toThrow(expect.objectContaining({ code: 'LEVELRING_MALFORMED_BYTES' }))
  expect(() => decodeKeys(Buffer.from([ANTI_ENTROPY_FORMAT, 0xff, 0xff, 0xff, 0x0f]))).toThrow(expect.objectContaining({ code: 'LEVELRING_MALFORMED_BYTES' })) // 4 billion keys announced, none there
  expect(() => decodeRootsAnswer(Buffer.from([ANTI_ENTROPY_FORMAT, 9]), 1)).toThrow(/unknown root status 9/)
})
