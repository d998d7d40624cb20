import { expect, test } from 'vitest'
import { isClusterMember, loadConfig } from '../../../gateway/src/node/config.js'

// The gossip settings: --seeds makes a node a cluster member that joins through them (and needs
// the cluster secret), --phi-threshold and gossipIntervalMs tune detection; bad values are
// LEVELRING_BAD_CONFIG errors naming the setting.

test('--seeds makes a joining cluster member with n=3 by default; --phi-threshold is read as a number', () => {
  const config = loadConfig({ nodeId: 'n4', clusterSecretFile: '/dev/null', seeds: '127.0.0.1:7001, http://127.0.0.1:7002/', phiThreshold: '10.5' })
  expect(config.seeds).toEqual(['127.0.0.1:7001', '127.0.0.1:7002'])
  expect(config).toMatchObject({ replicas: 3, phiThreshold: 10.5, gossipIntervalMs: 1_000 })
  expect(isClusterMember(config)).toBe(true)
  expect(isClusterMember(loadConfig({ nodeId: 'n1', clusterSecretFile: '/dev/null', peers: 'n2=127.0.0.1:7002' }))).toBe(true)
  expect(isClusterMember(loadConfig({}))).toBe(false)
})

test('bad gossip settings are LEVELRING_BAD_CONFIG errors naming the setting', () => {
  const cases: Array<[Parameters<typeof loadConfig>[0], RegExp]> = [
    [{ seeds: '127.0.0.1:7001' }, /clusterSecretFile.*--seeds/],
    [{ clusterSecretFile: '/dev/null', seeds: 'nowhere' }, /seeds\[0\].*host:port/],
    [{ clusterSecretFile: '/dev/null', seeds: '127.0.0.1:0' }, /seeds\[0\].*real port/],
    [{ phiThreshold: '0' }, /phiThreshold/],
    [{ phiThreshold: 'high' }, /phiThreshold/]
  ]
  for (const [flags, message] of cases) {
    expect(() => loadConfig(flags), JSON.stringify(flags)).toThrow(expect.objectContaining({ code: 'LEVELRING_BAD_CONFIG' }))
    expect(() => loadConfig(flags), JSON.stringify(flags)).toThrow(message)
  }
})
