import { hash } from 'node:crypto'
import { expect, test } from 'vitest'
import { versionHash } from '../../../gateway/src/anti-entropy/version-hash.js'
import { encodeObject } from '../../../gateway/src/replica/object-codec.js'
import type { StoredObject, StoredVersion } from '../../../gateway/src/replica/stored-object.js'
import type { Sibling } from '../../../gateway/src/version/dvv.js'

// The Merkle leaf value: SHA-1 of the canonical bytes with clock timestamps zeroed, computed from the
// stored bytes without decoding them.

function sibling (actor: string, counter: number, value: string, tombstone = false): Sibling<StoredVersion> {
  return { dot: { actor, counter }, value: { tombstone, contentType: tombstone ? '' : 'text/plain', lastModified: 1_700_000_000_000 + counter, value: Buffer.from(value) } }
}

function object (clock: Array<[string, number, number]>, siblings: Array<Sibling<StoredVersion>>): StoredObject {
  return { clock: new Map(clock.map(([actor, counter, timestamp]) => [actor, { counter, timestamp }])), siblings }
}

const base = object([['a@1', 3, 1_700_000_000_123], ['b@2', 7, 1_700_000_000_456]], [sibling('a@1', 3, 'x'), sibling('b@2', 7, 'y')])

test('equals SHA-1 of the object codec bytes with every clock timestamp 0', () => {
  const timeless = object([['a@1', 3, 0], ['b@2', 7, 0]], base.siblings as Array<Sibling<StoredVersion>>)
  expect(versionHash(encodeObject(base))).toEqual(hash('sha1', encodeObject(timeless), 'buffer'))
  const empty = object([], [])
  expect(versionHash(encodeObject(empty))).toEqual(hash('sha1', encodeObject(empty), 'buffer'))
})

test('the same versions with other clock timestamps hash alike; other counters, dots, values or a tombstone do not', () => {
  const h = versionHash(encodeObject(base))
  expect(versionHash(encodeObject(object([['a@1', 3, 5], ['b@2', 7, 0]], base.siblings as Array<Sibling<StoredVersion>>)))).toEqual(h)
  const variants = [
    object([['a@1', 4, 1], ['b@2', 7, 1]], base.siblings as Array<Sibling<StoredVersion>>),
    object([['a@1', 3, 1], ['b@2', 7, 1]], [sibling('a@1', 3, 'x')]),
    object([['a@1', 3, 1], ['b@2', 7, 1]], [sibling('a@1', 3, 'x'), sibling('b@2', 7, 'z')]),
    object([['a@1', 3, 1], ['b@2', 7, 1]], [sibling('a@1', 3, '', true), sibling('b@2', 7, 'y')]),
    object([['a@1', 3, 1], ['b@2', 7, 1], ['c@3', 1, 1]], base.siblings as Array<Sibling<StoredVersion>>)
  ]
  const hashes = new Set(variants.map((v) => versionHash(encodeObject(v)).toString('hex')))
  expect(hashes.size).toBe(variants.length)
  expect(hashes.has(h.toString('hex'))).toBe(false)
})

test('bytes that are not an object encoding are a LEVELRING_MALFORMED_BYTES', () => {
  expect(() => versionHash(new Uint8Array([1, 5]))).toThrow(expect.objectContaining({ code: 'LEVELRING_MALFORMED_BYTES' }))
  expect(() => versionHash(new Uint8Array([]))).toThrow(expect.objectContaining({ code: 'LEVELRING_MALFORMED_BYTES' }))
})
