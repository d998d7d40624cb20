import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { beforeAll, expect, test } from 'vitest'
import { loadConfig } from '../../../gateway/src/node/config.js'
import { loadNodeTls } from '../../../gateway/src/node/node-tls.js'
import { makeCertificates } from '../../../tools/src/commands/certs/certificate-authority.js'
import { tempRoot } from '../../support/temp-dir.js'

// The TLS settings: the files come in pairs, mutual TLS needs the node's own certificate, TLS is
// cluster-wide so a peer written with the other scheme is refused, and files that cannot serve TLS
// stop the node at start with LEVELRING_BAD_CONFIG naming the setting.

const dir = tempRoot('levelring-node-tls')
const tls = (name: string): string => join(dir, name)
const PEERS = 'b=127.0.0.1:7102,c=127.0.0.1:7103'

beforeAll(async () => {
  await makeCertificates(dir, { nodes: ['a', 'b'] })
  await writeFile(tls('secret'), 'a-cluster-secret-0123456789')
  await writeFile(tls('not-pem'), 'hello')
})

function badConfig (fn: () => unknown, setting: RegExp): void {
  let error: unknown
  try { fn() } catch (err) { error = err }
  expect(error, String(setting)).toMatchObject({ code: 'LEVELRING_BAD_CONFIG' })
  expect((error as Error).message).toMatch(setting)
}

test('flags and config keys; certificate and key come together, the CA only with them', () => {
  const flags = { tlsCert: tls('a.pem'), tlsKey: tls('a-key.pem'), tlsCa: tls('ca.pem') }
  expect(loadConfig(flags)).toMatchObject({ tlsCertFile: tls('a.pem'), tlsKeyFile: tls('a-key.pem'), tlsCaFile: tls('ca.pem'), maxConnectionsPerPeer: 512 })
  expect(loadConfig({ maxConnectionsPerPeer: '8' }).maxConnectionsPerPeer).toBe(8)
  badConfig(() => loadConfig({ tlsCert: tls('a.pem') }), /tlsKeyFile: TLS needs both --tls-cert and --tls-key/)
  badConfig(() => loadConfig({ tlsKey: tls('a-key.pem') }), /tlsCertFile/)
  badConfig(() => loadConfig({ tlsCa: tls('ca.pem') }), /tlsCaFile: mutual TLS \(--tls-ca\) needs the node's own certificate/)
  badConfig(() => loadConfig({ maxConnectionsPerPeer: '0' }), /maxConnectionsPerPeer/)
})

test('TLS is cluster-wide: a peer or seed URL of the other scheme is refused', () => {
  const withTls = { tlsCert: tls('a.pem'), tlsKey: tls('a-key.pem'), clusterSecretFile: tls('secret'), nodeId: 'a' }
  expect(loadConfig({ ...withTls, peers: 'b=https://127.0.0.1:7102,c=127.0.0.1:7103' }).peers).toHaveLength(2)
  badConfig(() => loadConfig({ ...withTls, peers: 'b=http://127.0.0.1:7102' }), /peers\[0\]: .*this node serves TLS/)
  badConfig(() => loadConfig({ ...withTls, seeds: 'http://127.0.0.1:7102' }), /seeds\[0\]: .*every peer is reached over https/)
  badConfig(() => loadConfig({ nodeId: 'a', clusterSecretFile: tls('secret'), peers: 'b=https://127.0.0.1:7102' }), /this node has no TLS/)
  expect(loadConfig({ nodeId: 'a', clusterSecretFile: tls('secret'), peers: PEERS }).peers).toHaveLength(2)
})

test('the files are read and checked at start: unreadable, not PEM, or a key that is not the certificate\'s', async () => {
  expect(await loadNodeTls({})).toBeUndefined()
  const loaded = await loadNodeTls({ tlsCertFile: tls('a.pem'), tlsKeyFile: tls('a-key.pem'), tlsCaFile: tls('ca.pem') })
  expect(loaded?.cert.toString()).toMatch(/BEGIN CERTIFICATE/)
  expect(loaded?.ca).toBeDefined()
  await expect(loadNodeTls({ tlsCertFile: tls('missing.pem'), tlsKeyFile: tls('a-key.pem') })).rejects.toMatchObject({ code: 'LEVELRING_BAD_CONFIG', message: /tlsCertFile.*cannot read/ })
  await expect(loadNodeTls({ tlsCertFile: tls('a.pem'), tlsKeyFile: tls('not-pem') })).rejects.toMatchObject({ code: 'LEVELRING_BAD_CONFIG', message: /tlsKeyFile.*no PEM block/ })
  await expect(loadNodeTls({ tlsCertFile: tls('a.pem'), tlsKeyFile: tls('b-key.pem') })).rejects.toMatchObject({ code: 'LEVELRING_BAD_CONFIG', message: /cannot serve TLS/ })
})
