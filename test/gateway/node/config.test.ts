import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { DEFAULT_CONFIG, loadConfig, parseListen } from '../../../gateway/src/node/config.js'
import { tempRoot } from '../../support/temp-dir.js'

const dir = tempRoot('levelring-config')

test('defaults, then the file, then flags; a lone node has n=1, a node with peers n=3', async () => {
  expect(loadConfig({})).toMatchObject({ nodeId: 'n1', replicas: 1, dataDir: './data/n1', listen: { host: '127.0.0.1', port: 7001 } })
  expect(loadConfig({ nodeId: 'n7' }).dataDir).toBe('./data/n7')
  expect(loadConfig({ aaeBuckets: '4096' }).aaeBuckets).toBe(4096)
  expect(loadConfig({}).aaeBuckets).toBeUndefined()
  expect(loadConfig({ peers: 'a:1, b:2' })).toMatchObject({ peers: ['a:1', 'b:2'], replicas: 3 })
  const file = join(dir, 'node.yaml')
  await writeFile(file, 'nodeId: filed\nlisten: 0.0.0.0:8000\nreplicas: 2\ndataDir: /srv/x\ndefaults:\n  w: all\n')
  const fromFile = loadConfig({ config: file })
  expect(fromFile).toMatchObject({ nodeId: 'filed', listen: { host: '0.0.0.0', port: 8000 }, replicas: 2, dataDir: '/srv/x' })
  expect(fromFile.defaults).toEqual({ ...DEFAULT_CONFIG.defaults, w: 'all' })
  expect(loadConfig({ config: file, nodeId: 'flagged', listen: '[::1]:9000', replicas: '1' }))
    .toMatchObject({ nodeId: 'flagged', listen: { host: '::1', port: 9000 }, replicas: 1, dataDir: '/srv/x' })
  expect(parseListen('x', '7005')).toEqual({ host: '127.0.0.1', port: 7005 })
})

test('every bad setting is a LEVELRING_BAD_CONFIG error naming it', async () => {
  const bad = join(dir, 'bad.yaml')
  await writeFile(bad, 'defaults:\n  w: 3\n')
  const cases: Array<[Parameters<typeof loadConfig>[0], RegExp]> = [
    [{ nodeId: 'has space' }, /nodeId/],
    [{ listen: 'nohost:99999' }, /--listen/],
    [{ listen: 'a:b:c' }, /--listen/],
    [{ replicas: '0' }, /replicas/],
    [{ replicas: 'three' }, /replicas/],
    [{ logLevel: 'loud' }, /logLevel/],
    [{ aaeBuckets: '100' }, /aaeBuckets/],
    [{ aaeBuckets: '8' }, /aaeBuckets/],
    [{ config: join(dir, 'missing.yaml') }, /cannot read/],
    [{ config: bad }, /defaults\.w/]
  ]
  for (const [flags, message] of cases) {
    expect(() => loadConfig(flags), JSON.stringify(flags)).toThrow(expect.objectContaining({ code: 'LEVELRING_BAD_CONFIG' }))
    expect(() => loadConfig(flags), JSON.stringify(flags)).toThrow(message)
  }
  await writeFile(bad, '- just\n- a list\n')
  expect(() => loadConfig({ config: bad })).toThrow(/mapping/)
})

test('an unknown key in the file is refused naming it and the setting it likely meant; kebab-case keys are the flags\' names', async () => {
  const typo = join(dir, 'typo.yaml')
  await writeFile(typo, 'nodeId: a\nreplica: 3\n')
  expect(() => loadConfig({ config: typo }, {})).toThrow(/configuration replica in .*typo\.yaml: unknown setting; did you mean replicas\?/)
  await writeFile(typo, 'defaults:\n  wq: 1\n')
  expect(() => loadConfig({ config: typo }, {})).toThrow(/defaults\.wq in .*unknown setting/)
  await writeFile(typo, 'replicas: "3"\n')
  expect(() => loadConfig({ config: typo }, {})).toThrow(/configuration replicas in .*typo\.yaml: "3" must be integer/)
  await writeFile(typo, 'node-id: kebab\nblock-cache-size: 1048576\ndefaults: { timeout-ms: 900 }\n')
  expect(loadConfig({ config: typo }, {})).toMatchObject({ nodeId: 'kebab', blockCacheSize: 1048576, defaults: { timeoutMs: 900 } })
  await writeFile(typo, 'node-id: a\nnodeId: b\n')
  expect(() => loadConfig({ config: typo }, {})).toThrow(/nodeId in .* is given twice/)
})

test('every setting can come from LEVELRING_<FLAG> alone; precedence is flag > env > file > default', async () => {
  const env = {
    LEVELRING_NODE_ID: 'from-env',
    LEVELRING_LISTEN: '0.0.0.0:7400',
    LEVELRING_SEEDS: 'a.svc:7001, b.svc:7001',
    LEVELRING_CLUSTER_SECRET_FILE: '/run/secret',
    LEVELRING_DEFAULTS_W: 'all',
    LEVELRING_BLOCK_CACHE_SIZE: '8388608',
    LEVELRING_ENABLE_FAULT_INJECTION: 'true',
    LEVELRING_ADVERTISE: 'pod-0.levelring:7400'
  }
  expect(loadConfig({}, env)).toMatchObject({
    nodeId: 'from-env', listen: { host: '0.0.0.0', port: 7400 }, seeds: ['a.svc:7001', 'b.svc:7001'], replicas: 3,
    dataDir: './data/from-env', clusterSecretFile: '/run/secret', defaults: { w: 'all' }, blockCacheSize: 8388608,
    enableFaultInjection: true, advertise: 'pod-0.levelring:7400'
  })
  const file = join(dir, 'layers.yaml')
  await writeFile(file, 'nodeId: from-file\nreplicas: 2\nlogLevel: warn\nweight: 3\n')
  const layered = loadConfig({ config: file, nodeId: 'from-flag' }, { LEVELRING_NODE_ID: 'from-env', LEVELRING_REPLICAS: '1', LEVELRING_WEIGHT: '2' })
  expect(layered).toMatchObject({ nodeId: 'from-flag', replicas: 1, weight: 2, logLevel: 'warn' })
  expect(loadConfig({}, { LEVELRING_CONFIG: file })).toMatchObject({ nodeId: 'from-file', replicas: 2 })
  expect(() => loadConfig({}, { LEVELRING_REPLICAS: 'three' })).toThrow(/configuration replicas \(LEVELRING_REPLICAS\): "three" must be integer/)
  expect(() => loadConfig({}, { LEVELRING_LISTEN: 'a:b:c' })).toThrow(/listen \(LEVELRING_LISTEN\)/)
  expect(() => loadConfig({ replicas: '0' }, {})).toThrow(/replicas \(--replicas\)/)
})
