import { createHash } from 'node:crypto'
import { expect, test } from 'vitest'
import { loggedPath, operationOf } from '../../../gateway/src/http/request-observer.js'
import { internodeEndpoint } from '../../../gateway/src/metrics/internode-endpoint.js'

// The labels and log paths of requests: a fixed set of label values whatever the path, and no key in a log line.

test('every request is counted under one of a fixed set of operations, never its path', () => {
  expect(operationOf('GET', '/v1/kv/a%2Fb?r=2')).toBe('get')
  expect(operationOf('HEAD', '/v1/kv/a')).toBe('get')
  expect(operationOf('PUT', '/v1/kv/a')).toBe('put')
  expect(operationOf('DELETE', '/v1/kv/a')).toBe('delete')
  expect(operationOf('POST', '/v1/kv/a')).toBe('other')
  expect(operationOf('GET', '/v1/health')).toBe('health')
  expect(operationOf('GET', '/v1/ready?x=1')).toBe('ready')
  expect(operationOf('GET', '/metrics')).toBe('metrics')
  expect(operationOf('GET', '/ui/dashboard.js')).toBe('ui')
  expect(operationOf('POST', '/v1/admin/repair')).toBe('admin')
  expect(operationOf('PUT', '/internal/v1/replicas/k')).toBe('internode')
  for (const path of ['/', '/v2/kv/x', '/v1/kvx', '/uix', '/some/user/path/with-a-key']) expect(operationOf('GET', path)).toBe('other')
})

test('access log paths hash the key alike however it was encoded, redact it, or keep it; the query stays', () => {
  const hash = createHash('sha256').update('a/b c').digest('hex').slice(0, 16)
  expect(loggedPath('/v1/kv/a%2Fb%20c?r=2', 'hash')).toBe(`/v1/kv/#${hash}?r=2`)
  expect(loggedPath('/v1/kv/a%2Fb c', 'hash')).toBe(`/v1/kv/#${hash}`)
  expect(loggedPath('/internal/v1/replicas/a%2Fb%20c?hint-for=n3', 'hash')).toBe(`/internal/v1/replicas/#${hash}?hint-for=n3`)
  expect(loggedPath('/internal/v1/writes/secret', 'redact')).toBe('/internal/v1/writes/{key}')
  expect(loggedPath('/v1/kv/secret?w=3', 'plain')).toBe('/v1/kv/secret?w=3')
  expect(loggedPath('/v1/kv/%E0%A4%A', 'hash')).toMatch(/^\/v1\/kv\/#[0-9a-f]{16}$/) // not decodable: hashed as sent
  expect(loggedPath('/v1/cluster', 'hash')).toBe('/v1/cluster')
})

test('internode calls are labelled by what they do, from a fixed set, never by the key in their path', () => {
  expect(internodeEndpoint('GET', '/internal/v1/replicas/some-key?hints=1')).toBe('replica_read')
  expect(internodeEndpoint('GET', '/internal/v1/replicas/some-key?digest=1&hints=1')).toBe('replica_digest')
  expect(internodeEndpoint('PUT', '/internal/v1/replicas/some-key?sync=1')).toBe('replica_write')
  expect(internodeEndpoint('PUT', '/internal/v1/replicas/some-key?hint-for=n2&sync=1')).toBe('hint_write')
  expect(internodeEndpoint('POST', '/internal/v1/writes/some-key')).toBe('forward_write')
  expect(internodeEndpoint('POST', '/internal/v1/gossip')).toBe('gossip')
  expect(internodeEndpoint('POST', '/internal/v1/gossip/entries')).toBe('gossip/entries')
  expect(internodeEndpoint('POST', '/internal/v1/anti-entropy/roots')).toBe('anti-entropy/roots')
  expect(internodeEndpoint('POST', '/internal/v1/partitions/merge')).toBe('partitions/merge')
  expect(internodeEndpoint('POST', '/internal/v1/engine-shape')).toBe('engine-shape')
  expect(internodeEndpoint('GET', '/internal/v1/ping')).toBe('ping')
  expect(internodeEndpoint('GET', '/internal/v1/whatever-else/key')).toBe('other')
  expect(internodeEndpoint('POST', '/internal/v1/anti-entropy/SOME_KEY_1')).toBe('anti-entropy')
})
