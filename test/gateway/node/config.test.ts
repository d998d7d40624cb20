import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { DEFAULT_CONFIG, loadConfig, parseListen } from '../../../gateway/src/node/config.js'
import { tempRoot } from '../../support/temp-dir.js'

const dir = tempRoot('levelring-config')

test('defaults, then the file, then flags; a lone node has n=1, a node with peers n=3', async () => {
  expect(loadConfig({})).toMatchObject({ nodeId: 'n1', replicas: 1, dataDir: './data/n1', listen: { host: '127.0.0.1', port: 7001 } })
  expect(loadConfig({ nodeId: 'n7' }).dataDir).toBe('./data/n7')
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
