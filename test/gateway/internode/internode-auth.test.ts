import { describe, expect, test } from 'vitest'
import { InternodeAuth, SIGNATURE_WINDOW_MS, SIGNED_HEADERS } from '../../../gateway/src/internode/internode-auth.js'
import { ReplayCache } from '../../../gateway/src/internode/replay-cache.js'

// Request and answer signatures (internode/internode-auth.ts) without a network: what a node
// accepts, what it refuses and why, across a secret rotation; and the replay cache's bounds.

const OLD = Buffer.from('the old secret, 0123456789abcdef')
const NEW = Buffer.from('the new secret, fedcba9876543210')
const BODY = Buffer.from('a body')

describe('InternodeAuth', () => {
  test('a request verifies once, at its target, with its body; the answer verifies for the answerer and the request\'s nonce only', () => {
    let now = 1_000_000
    const a = new InternodeAuth([OLD], 'a', { now: () => now })
    const b = new InternodeAuth([OLD], 'b', { now: () => now })
    const headers = a.signRequest('PUT', '/internal/v1/replicas/k?sync=1', BODY, 'b')
    expect(a.checkRequest('PUT', '/internal/v1/replicas/k?sync=1', headers)).toMatch(/signed for node b, this is node a/)
    expect(b.checkRequest('PUT', '/internal/v1/replicas/k', headers)).toMatch(/does not verify/)
    expect(b.checkRequest('POST', '/internal/v1/replicas/k?sync=1', headers)).toMatch(/does not verify/)
    expect(b.checkRequest('PUT', '/internal/v1/replicas/k?sync=1', { ...headers, [SIGNED_HEADERS.caller]: 'c' })).toMatch(/does not verify/)
    const checked = b.checkRequest('PUT', '/internal/v1/replicas/k?sync=1', headers)
    if (typeof checked === 'string') throw new Error(checked)
    expect(b.bodyMatches(checked, BODY)).toBe(true)
    expect(b.bodyMatches(checked, Buffer.from('another body'))).toBe(false)
    expect(b.checkRequest('PUT', '/internal/v1/replicas/k?sync=1', headers)).toMatch(/already received/)
    const signature = b.signAnswer(204, 'PUT', '/internal/v1/replicas/k?sync=1', checked.nonce, Buffer.alloc(0))
    expect(a.answerIsFrom('b', 204, 'PUT', '/internal/v1/replicas/k?sync=1', checked.nonce, Buffer.alloc(0), signature)).toBe(true)
    expect(a.answerIsFrom('c', 204, 'PUT', '/internal/v1/replicas/k?sync=1', checked.nonce, Buffer.alloc(0), signature)).toBe(false)
    expect(a.answerIsFrom('b', 200, 'PUT', '/internal/v1/replicas/k?sync=1', checked.nonce, Buffer.alloc(0), signature)).toBe(false)
    expect(a.answerIsFrom('b', 204, 'PUT', '/internal/v1/replicas/k?sync=1', InternodeAuth.nonce(), Buffer.alloc(0), signature)).toBe(false)
    expect(a.answerIsFrom('b', 204, 'PUT', '/internal/v1/replicas/k?sync=1', checked.nonce, Buffer.alloc(0), undefined)).toBe(false)
    // An answer signature never passes for a request signature.
    expect(b.checkRequest('PUT', '/internal/v1/replicas/k?sync=1', { ...a.signRequest('PUT', '/internal/v1/replicas/k?sync=1', BODY, 'b'), [SIGNED_HEADERS.signature]: signature })).toMatch(/does not verify/)
    // Stale and future timestamps.
    const late = a.signRequest('GET', '/internal/v1/ping', undefined, 'b')
    now += SIGNATURE_WINDOW_MS + 1
    expect(b.checkRequest('GET', '/internal/v1/ping', late)).toMatch(/s off this node's clock/)
    const ahead = new InternodeAuth([OLD], 'a', { now: () => now + SIGNATURE_WINDOW_MS + 1 })
    expect(b.checkRequest('GET', '/internal/v1/ping', ahead.signRequest('GET', '/internal/v1/ping', undefined, 'b'))).toMatch(/s off this node's clock/)
  })

  test('missing or malformed headers, and calls signed before the node started, are refused', () => {
    let now = 5_000_000
    const a = new InternodeAuth([OLD], 'a', { now: () => now })
    const early = a.signRequest('GET', '/internal/v1/ping', undefined, 'b')
    now += 1_000
    const b = new InternodeAuth([OLD], 'b', { now: () => now })
    expect(b.checkRequest('GET', '/internal/v1/ping', {})).toMatch(/missing/)
    expect(b.checkRequest('GET', '/internal/v1/ping', { ...early, [SIGNED_HEADERS.nonce]: 'short' })).toMatch(/malformed/)
    expect(b.checkRequest('GET', '/internal/v1/ping', { ...early, [SIGNED_HEADERS.timestamp]: '-1' })).toMatch(/malformed/)
    expect(b.checkRequest('GET', '/internal/v1/ping', early)).toMatch(/replay/) // before b started: its nonces are unknown
    expect(typeof b.checkRequest('GET', '/internal/v1/ping', a.signRequest('GET', '/internal/v1/ping', undefined, 'b'))).toBe('object')
  })

  test('across a rotation: signed with the first secret, accepted under any; a node without the signing secret refuses', () => {
    const step1 = new InternodeAuth([OLD, NEW], 'a')
    const step2 = new InternodeAuth([NEW, OLD], 'b')
    const onlyOld = new InternodeAuth([OLD], 'c')
    const onlyNew = new InternodeAuth([NEW], 'd')
    expect(typeof step2.checkRequest('GET', '/p', step1.signRequest('GET', '/p', undefined, 'b'))).toBe('object')
    expect(typeof step1.checkRequest('GET', '/p', step2.signRequest('GET', '/p', undefined, 'a'))).toBe('object')
    expect(typeof onlyOld.checkRequest('GET', '/p', step1.signRequest('GET', '/p', undefined, 'c'))).toBe('object')
    expect(onlyOld.checkRequest('GET', '/p', step2.signRequest('GET', '/p', undefined, 'c'))).toMatch(/does not verify/)
    expect(onlyNew.checkRequest('GET', '/p', step1.signRequest('GET', '/p', undefined, 'd'))).toMatch(/does not verify/)
    const nonce = InternodeAuth.nonce()
    expect(step1.answerIsFrom('b', 200, 'GET', '/p', nonce, BODY, step2.signAnswer(200, 'GET', '/p', nonce, BODY))).toBe(true)
    expect(onlyOld.answerIsFrom('d', 200, 'GET', '/p', nonce, BODY, onlyNew.signAnswer(200, 'GET', '/p', nonce, BODY))).toBe(false)
  })
})

describe('ReplayCache', () => {
  test('admits a nonce once per timestamp, forgets buckets out of the window', () => {
    const cache = new ReplayCache(30_000, 1_000)
    expect(cache.admit(100_000, 'n1', 100_000)).toBe(true)
    expect(cache.admit(100_000, 'n1', 100_500)).toBe(false)
    expect(cache.admit(100_001, 'n2', 100_500)).toBe(true)
    expect(cache.size).toBe(2)
    cache.admit(200_000, 'n3', 200_000) // expires the buckets of second 100
    expect(cache.size).toBe(1)
  })

  test('past its limit it drops the oldest second and refuses every timestamp up to it: an evicted nonce never comes back', () => {
    const cache = new ReplayCache(30_000, 100)
    for (let i = 0; i < 100; i++) expect(cache.admit(10_000 + (i % 10) * 1_000, `n${i}`, 20_000)).toBe(true)
    expect(cache.size).toBe(100)
    expect(cache.admit(20_000, 'one more', 20_000)).toBe(true)
    expect(cache.size).toBeLessThanOrEqual(100)
    expect(cache.admit(10_000, 'n0', 20_000)).toBe(false) // evicted with second 10, refused by the floor
    expect(cache.admit(10_999, 'fresh', 20_000)).toBe(false)
    expect(cache.admit(11_000, 'fresh', 20_000)).toBe(true)
    // Memory stays within the limit whatever arrives.
    for (let i = 0; i < 1_000; i++) cache.admit(21_000 + i, `m${i}`, 21_000 + i)
    expect(cache.size).toBeLessThanOrEqual(100)
  })
})
