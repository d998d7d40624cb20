import { expect, test } from 'vitest'
import { NodeMetrics } from '../../../gateway/src/metrics/node-metrics.js'
import { parseExposition, sampleValue } from '../../support/prometheus-text.js'

// Internode calls are counted with plain additions (no label hashing per call): the exposition must
// still show one series per peer, endpoint and outcome, and the latency histogram per peer and endpoint.

test('internode calls are counted by peer, endpoint and outcome, their latency by peer and endpoint', async () => {
  const metrics = new NodeMetrics('n1')
  for (let i = 0; i < 5; i++) metrics.internodeCall('n2', 'replica_digest', 0.0004, 'ok')
  metrics.internodeCall('n2', 'replica_digest', 0.02, 'unreachable')
  metrics.internodeCall('n2', 'replica_read', 3, 'error')
  metrics.internodeCall('node 3', 'replica_digest', 0.002, 'ok') // an id with a space names its own series
  // The internode families alone: prom-client's event-loop gauges read NaN until the loop was sampled.
  const text = (await metrics.registry.metrics()).split('\n').filter((line) => /^(# (HELP|TYPE) )?levelring_internode_/.test(line)).join('\n') + '\n'
  const m = parseExposition(text)
  const calls = (peer: string, endpoint: string, outcome: string): number => sampleValue(m, 'levelring_internode_calls_total', { node: 'n1', peer, endpoint, outcome })
  expect(calls('n2', 'replica_digest', 'ok')).toBe(5)
  expect(calls('n2', 'replica_digest', 'unreachable')).toBe(1)
  expect(calls('n2', 'replica_read', 'error')).toBe(1)
  expect(calls('node 3', 'replica_digest', 'ok')).toBe(1)
  const seconds = (suffix: string, labels: Record<string, string>): number => sampleValue(m, `levelring_internode_call_duration_seconds_${suffix}`, { node: 'n1', ...labels })
  expect(seconds('count', { peer: 'n2', endpoint: 'replica_digest' })).toBe(6)
  expect(seconds('sum', { peer: 'n2', endpoint: 'replica_digest' })).toBeCloseTo(0.022, 9)
  expect(seconds('bucket', { peer: 'n2', endpoint: 'replica_digest', le: '0.0005' })).toBe(5)
  expect(seconds('bucket', { peer: 'n2', endpoint: 'replica_digest', le: '0.025' })).toBe(6)
  expect(seconds('bucket', { peer: 'n2', endpoint: 'replica_read', le: '2.5' })).toBe(0)
  expect(seconds('bucket', { peer: 'n2', endpoint: 'replica_read', le: '+Inf' })).toBe(1)
  expect(text).toMatch(/# TYPE levelring_internode_calls_total counter/)
  expect(text).toMatch(/# TYPE levelring_internode_call_duration_seconds histogram/)
})
