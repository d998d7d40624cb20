import { expect, test } from 'vitest'
import { loadConfig, peerAddresses, peerMembers, type NodeConfig } from '../../../gateway/src/node/config.js'

// The static membership as configured: --peers id=host:port (or http://host:port), config-file
// objects with weights; every inconsistency is a LEVELRING_BAD_CONFIG error naming the setting.

const base = { nodeId: 'n1', clusterSecretFile: '/dev/null' }

test('--peers with ids makes a membership; bare addresses do not; weights and partitions come from flags or the file', () => {
  const config = loadConfig({ ...base, peers: 'n2=127.0.0.1:7002, n3=http://127.0.0.1:7003/', weight: '2', partitions: '1024' })
  expect(peerMembers(config)).toEqual([
    { id: 'n2', address: '127.0.0.1:7002', weight: 1 },
    { id: 'n3', address: '127.0.0.1:7003', weight: 1 }
  ])
  expect(config).toMatchObject({ weight: 2, partitions: 1024, replicas: 3 })
  expect(peerMembers(loadConfig({ peers: '127.0.0.1:7002,[::1]:7003' }))).toBeUndefined()
  expect(peerAddresses(loadConfig({ peers: '127.0.0.1:7002,[::1]:7003' }))).toEqual(['127.0.0.1:7002', '[::1]:7003'])
  const fromFile = { ...loadConfig({}), nodeId: 'a', peers: [{ id: 'b', address: '10.0.0.2:7001', weight: 4 }, 'c=10.0.0.3:7001'] } as NodeConfig
  expect(peerMembers(fromFile)).toEqual([{ id: 'b', address: '10.0.0.2:7001', weight: 4 }, { id: 'c', address: '10.0.0.3:7001', weight: 1 }])
  expect(loadConfig({}).partitions).toBe(2048)
})

test('bad memberships are LEVELRING_BAD_CONFIG errors naming the problem', () => {
  const cases: Array<[Parameters<typeof loadConfig>[0], RegExp]> = [
    [{ ...base, peers: 'n2=127.0.0.1:7002,127.0.0.1:7003' }, /mixes id=host:port and bare/],
    [{ ...base, peers: 'n2=127.0.0.1:7002,n2=127.0.0.1:7003' }, /n2 twice/],
    [{ ...base, peers: 'n1=127.0.0.1:7002' }, /own id n1/],
    [{ ...base, peers: 'n2=127.0.0.1:7002,n3=127.0.0.1:7002' }, /address 127.0.0.1:7002 twice/],
    [{ ...base, peers: 'bad id=127.0.0.1:7002' }, /node id/],
    [{ ...base, peers: 'n2=nowhere' }, /host:port/],
    [{ ...base, peers: 'n2=127.0.0.1:0' }, /real port/],
    [{ nodeId: 'n1', peers: 'n2=127.0.0.1:7002' }, /--cluster-secret-file/],
    [{ ...base, partitions: '100' }, /power of two/],
    [{ ...base, partitions: '32768' }, /power of two/],
    [{ ...base, weight: '0' }, /weight/],
    [{ ...base, zone: 'east coast' }, /zone/]
  ]
  for (const [flags, message] of cases) {
    expect(() => loadConfig(flags), JSON.stringify(flags)).toThrow(expect.objectContaining({ code: 'LEVELRING_BAD_CONFIG' }))
    expect(() => loadConfig(flags), JSON.stringify(flags)).toThrow(message)
  }
  expect(() => peerMembers({ nodeId: 'a', peers: [{ id: 'b', address: '1.2.3.4:5', weight: 0.5 }] })).toThrow(/weight/)
})
