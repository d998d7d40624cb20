import { expect, test } from 'vitest'
import { KEY_HASH_SPACE, KeyHashIndex } from '../../gateway/src/anti-entropy/key-hash-index.js'
import { checkKeyHashIndex } from '../../gateway/src/anti-entropy/index-check.js'
import { NodeStorage } from '../../gateway/src/replica/node-storage.js'
import { storageKey } from '../../gateway/src/replica/storage-keys.js'
import { startNodeProcess } from '../support/node-process.js'
import { tempDirPerTest } from '../support/temp-dir.js'
import { expectOneLineFailure, levelring } from './levelring-cli.js'

// `levelring db put|del` on a stopped node's data directory write objects the way the node does
// (NodeStorage), so the key hash index and the tombstone index change in the same engine batch: a
// check of the index against the objects finds no difference, and the node starts and serves what
// was written. What would put them out of step (a value that is not an object, a write to an
// index space itself) is refused with nothing changed.

const tempDir = tempDirPerTest('levelring-db-node')
const hex = (text: string): string => Buffer.from(text, 'utf8').toString('hex')
const objectKey = (key: string): string => hex(`!o!${storageKey(key)}`)

async function expectIndexInStep (dir: string): Promise<{ objects: number, deleted: string[] }> {
  const storage = await NodeStorage.open(dir)
  try {
    const check = await checkKeyHashIndex(storage.objects, KeyHashIndex.attach(storage).space)
    expect({ missing: check.missing, stale: check.stale, wrong: check.wrong }).toEqual({ missing: [], stale: [], wrong: [] })
    expect(check.entries).toBe(check.objects)
    const deleted: string[] = []
    for await (const [key] of storage.tombstoneEntries()) deleted.push(key)
    return { objects: check.objects, deleted }
  } finally {
    await storage.close()
  }
}

test('db put and del on a stopped node\'s data directory keep its key hash index and tombstone index in step', async () => {
  const dir = tempDir()
  const args = ['--node-id', 'n1', '--data-dir', dir, '--log-level', 'info', '--access-log', 'off']
  const first = await startNodeProcess(args)
  for (const [key, value] of [['a', 'alpha'], ['b', 'beta'], ['c', 'gamma']]) {
    expect((await fetch(`${first.url}/v1/kv/${key}`, { method: 'PUT', body: value, headers: { 'content-type': 'text/plain' } })).status).toBe(204)
  }
  expect((await fetch(`${first.url}/v1/kv/c`, { method: 'DELETE' })).status).toBe(204)
  await first.stop()
  expect(await expectIndexInStep(dir)).toEqual({ objects: 3, deleted: ['c'] })

  // a's stored object copied to a new key; b removed; the tombstone of c removed.
  const a = await levelring(['db', 'get', dir, objectKey('a'), '--encoding', 'hex'])
  expect(a.code, a.stderr).toBe(0)
  const put = await levelring(['db', 'put', dir, objectKey('copied'), a.stdout.trim(), '--encoding', 'hex'])
  expect(put.code, put.stderr).toBe(0)
  for (const key of ['b', 'c']) {
    const del = await levelring(['db', 'del', dir, objectKey(key), '--encoding', 'hex'])
    expect(del.code, del.stderr).toBe(0)
  }

  // Refused, nothing written: bytes that are not an object, a malformed object key, an index space.
  expectOneLineFailure(await levelring(['db', 'put', dir, objectKey('junk'), hex('not an object'), '--encoding', 'hex']),
    /LEVELRING_BAD_ARGUMENT: VALUE is not a stored object/)
  expectOneLineFailure(await levelring(['db', 'put', dir, hex('!o!zzzzzzzzjunk'), hex('x'), '--encoding', 'hex']),
    /LEVELRING_BAD_ARGUMENT: .* is not an object key/)
  expectOneLineFailure(await levelring(['db', 'del', dir, hex(`!${KEY_HASH_SPACE}!${storageKey('a')}`), '--encoding', 'hex']),
    /LEVELRING_BAD_ARGUMENT: .*index kept in step with the objects/)
  expect((await levelring(['db', 'get', dir, objectKey('junk'), '--encoding', 'hex'])).code).toBe(1)

  expect(await expectIndexInStep(dir)).toEqual({ objects: 2, deleted: [] })

  const second = await startNodeProcess(args)
  try {
    const copied = await fetch(`${second.url}/v1/kv/copied`)
    expect(copied.status).toBe(200)
    expect(await copied.text()).toBe('alpha')
    expect((await fetch(`${second.url}/v1/kv/b`)).status).toBe(404)
  } finally {
    await second.stop()
  }
  expect(await expectIndexInStep(dir)).toEqual({ objects: 2, deleted: [] })
}, 180_000)
