import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ContractClient, kvPath, type CheckedResponse } from '../helpers/contract-client.js'
import { startTestNode, type TestNode } from '../helpers/test-node.js'
import { DEFAULT_CONFIG } from '../../../gateway/src/node/config.js'
import { storageKey } from '../../../gateway/src/replica/storage-keys.js'
import { readDocument } from '../../../gateway/src/http/contract.js'

const LIMIT = 4096
const TOKEN = 'test-token-0123456789'

let plain: TestNode // n=1, small value limit, no auth
let guarded: TestNode // n=3 (only itself reachable), bearer tokens, peers listed
let c: ContractClient
let g: ContractClient

beforeAll(async () => {
  plain = await startTestNode({ maxValueBytes: LIMIT, headersTimeoutMs: 300 })
  const tokenFile = join(plain.dataDir, '..', `levelring-tokens-${process.pid}`)
  await writeFile(tokenFile, `# tokens\n${TOKEN}\nsecond-token-abcdef\n`)
  guarded = await startTestNode({ replicas: 3, authTokenFile: tokenFile, peers: ['127.0.0.1:7902', '127.0.0.1:7903'] })
  c = new ContractClient(plain.url)
  g = new ContractClient(guarded.url, TOKEN)
})

afterAll(async () => {
  await plain?.stop()
  await guarded?.stop()
})

function problemOf (res: CheckedResponse, type: string, status: number): void {
  expect(res.status).toBe(status)
  expect(res.json.type).toBe(`urn:levelring:problem:${type}`)
  expect(typeof res.json.detail).toBe('string')
}

/** Write a canary value and return a check that it is exactly as written (value, type, version). */
async function canary (client: ContractClient, key: string): Promise<() => Promise<void>> {
  const put = await client.put(kvPath(key), { body: 'canary', headers: { 'Content-Type': 'text/x-canary' } })
  expect(put.status).toBe(204)
  return async () => {
    const got = await client.get(kvPath(key))
    expect(got.status).toBe(200)
    expect(got.body.toString()).toBe('canary')
    expect(got.headers['content-type']).toBe('text/x-canary')
    expect(got.headers.etag).toBe(put.headers.etag)
  }
}

describe('PUT /v1/kv/{key}', () => {
  test('204 with a context and an ETag; the value and its Content-Type come back exactly', async () => {
    const put = await c.put(kvPath('greeting'), { body: 'hello', headers: { 'Content-Type': 'text/plain; charset=latin1' } })
    expect(put.status).toBe(204)
    expect(put.headers['x-causal-context']).toMatch(/^[A-Za-z0-9_-]+$/)
    const got = await c.get(kvPath('greeting'))
    expect(got.status).toBe(200)
    expect(got.body.toString()).toBe('hello')
    expect(got.headers['content-type']).toBe('text/plain; charset=latin1')
    expect(got.headers.etag).toBe(put.headers.etag)
    expect(Date.parse(got.headers['last-modified']!)).toBeGreaterThan(Date.now() - 60_000)
  })

  test('binary values, empty values and a missing Content-Type', async () => {
    const bytes = Buffer.from([0, 255, 1, 254, 0x80, 0x7f])
    expect((await c.put(kvPath('bin'), { body: bytes, headers: { 'Content-Type': 'application/x-thing' } })).status).toBe(204)
    const got = await c.get(kvPath('bin'))
    expect(got.body.equals(bytes)).toBe(true)
    // No Content-Type: stored as application/octet-stream.
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(`${plain.url}${kvPath('untyped')}`, { method: 'PUT', headers: { 'Content-Length': '3' } }, (res) => {
        res.resume(); res.on('end', () => { expect(res.statusCode).toBe(204); resolve() })
      })
      req.on('error', reject)
      req.end('abc')
    })
    expect((await c.get(kvPath('untyped'))).headers['content-type']).toBe('application/octet-stream')
    expect((await c.put(kvPath('empty'), { body: '', headers: { 'Content-Type': 'text/plain' } })).status).toBe(204)
    const empty = await c.get(kvPath('empty'))
    expect(empty.status).toBe(200)
    expect(empty.body.length).toBe(0)
  })

  test('returnbody=true answers 200 with the stored object', async () => {
    const res = await c.put(kvPath('rb'), { query: 'returnbody=true', body: 'v', headers: { 'Content-Type': 'text/plain' } })
    expect(res.status).toBe(200)
    expect(res.json.siblings).toEqual([{ value: Buffer.from('v').toString('base64'), contentType: 'text/plain', lastModified: expect.any(String) }])
    expect(res.headers['x-causal-context']).toBe(res.json.context)
    expect((await c.put(kvPath('rb'), { query: 'returnbody=false', body: 'w', headers: { 'X-Causal-Context': res.json.context } })).status).toBe(204)
  })

  test('every quorum parameter form is accepted within n', async () => {
    for (const query of ['w=1', 'w=one', 'w=quorum', 'w=all', 'dw=0', 'dw=1', 'dw=all', 'pw=0', 'pw=1', 'pw=quorum',
      'timeout_ms=1000', 'w=1&dw=1&pw=1&timeout_ms=600000&returnbody=false']) {
      const res = await c.put(kvPath('quorum-forms'), { query, body: query, headers: { 'Content-Type': 'text/plain' } })
      expect(res.status, query).toBe(204)
    }
  })

  test('bad quorum and other parameters: 400 naming the parameter, nothing stored', async () => {
    const unchanged = await canary(c, 'params-canary')
    const cases: Array<[string, string]> = [
      ['w=2', 'w'], ['w=all2', 'w'], ['w=0', 'w'], ['w=-1', 'w'], ['w=abc', 'w'], ['w=', 'w'], ['w=1.5', 'w'], ['w=256', 'w'],
      ['dw=2', 'dw'], ['dw=x', 'dw'], ['pw=5', 'pw'], ['pw=-1', 'pw'],
      ['timeout_ms=0', 'timeout_ms'], ['timeout_ms=600001', 'timeout_ms'], ['timeout_ms=soon', 'timeout_ms'],
      ['returnbody=maybe', 'returnbody'], ['returnbody=1', 'returnbody'],
      ['W=1', 'W'], ['r=1', 'r'], ['foo=bar', 'foo'], ['w=1&w=1', 'w']
    ]
    for (const [query, parameter] of cases) {
      const res = await c.put(kvPath('params-canary'), { query, body: 'overwritten?', headers: { 'Content-Type': 'text/plain' } })
      problemOf(res, 'invalid-parameter', 400)
      expect(res.json.parameter, query).toBe(parameter)
      expect(res.json.key).toBe('params-canary')
    }
    await unchanged()
  })

  test('bad keys: bad UTF-8, over 1024 bytes, empty, several segments, malformed escapes', async () => {
    const long = 'é'.repeat(512) // 1024 bytes of UTF-8: the largest key
    expect((await c.put(kvPath(long), { body: 'max' })).status).toBe(204)
    expect((await c.get(kvPath(long))).body.toString()).toBe('max')
    const bad = ['/v1/kv/%FF', '/v1/kv/%C3%28', '/v1/kv/%ED%A0%80', `/v1/kv/${encodeURIComponent(long + 'x')}`,
      `/v1/kv/${'a'.repeat(1025)}`, '/v1/kv/', '/v1/kv/a/b', '/v1/kv/%G1', '/v1/kv/abc%2', '/v1/kv/%']
    for (const path of bad) {
      for (const method of ['PUT', 'GET', 'DELETE']) {
        const res = await c.send(method, path, method === 'PUT' ? { body: 'x' } : {})
        problemOf(res, 'invalid-key', 400)
        expect(res.json.parameter).toBe('key')
      }
    }
    // Nothing was stored under a prefix of a refused key.
    expect((await c.get(kvPath('a'))).status).toBe(404)
  })

  test('keys are any UTF-8, "/" included when escaped, and round-trip exactly', async () => {
    for (const key of ['ключ', '🔑 key', 'a/b', 'a%2Fb', ' ', 'x?y#z', '\u0000nul']) {
      expect((await c.put(kvPath(key), { body: key, headers: { 'Content-Type': 'text/plain' } })).status, key).toBe(204)
    }
    for (const key of ['ключ', '🔑 key', 'a/b', 'a%2Fb', ' ', 'x?y#z', '\u0000nul']) {
      expect((await c.get(kvPath(key))).body.toString(), key).toBe(key)
    }
  })

  test('forged, truncated, damaged and foreign contexts: 400 invalid-context, nothing stored', async () => {
    const unchanged = await canary(c, 'ctx-canary')
    const ctx = (await c.get(kvPath('ctx-canary'))).headers['x-causal-context']!
    const otherKey = (await c.get(kvPath('greeting'))).headers['x-causal-context']!
    await g.put(kvPath('foreign'), { body: 'x', query: 'w=1' }).catch(() => undefined)
    const foreign = (await g.get(kvPath('foreign'), { query: 'r=1' })).headers['x-causal-context']!
    const flip = (s: string, i: number): string => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1)
    const tokens = [
      flip(ctx, 3), flip(ctx, ctx.length - 2), ctx.slice(0, ctx.length - 4), ctx.slice(0, 10), ctx.slice(4),
      ctx + 'AA', 'AAAA', 'not base64!', '', otherKey, foreign, 'A'.repeat(9_000), 'A'.repeat(8_000)
    ]
    for (const token of tokens) {
      for (const method of ['PUT', 'DELETE']) {
        const res = await c.send(method, kvPath('ctx-canary'), { body: method === 'PUT' ? 'forged' : undefined, headers: { 'X-Causal-Context': token } })
        problemOf(res, 'invalid-context', 400)
        expect(res.json.parameter).toBe('X-Causal-Context')
      }
    }
    await unchanged()
  })

  test('a value over the limit: 413 (declared or streamed), nothing stored', async () => {
    const unchanged = await canary(c, 'big-canary')
    const res = await c.put(kvPath('big-canary'), { body: Buffer.alloc(LIMIT + 1, 1) })
    problemOf(res, 'value-too-large', 413)
    expect(res.json.limit).toBe(LIMIT)
    await unchanged()
    // Chunked, no Content-Length: refused while streaming.
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${plain.url}${kvPath('chunked-big')}`, { method: 'PUT', headers: { 'Transfer-Encoding': 'chunked' } }, (r) => {
        r.resume(); resolve(r.statusCode!)
      })
      req.on('error', reject)
      for (let i = 0; i < 8; i++) req.write(Buffer.alloc(1024, 2))
      req.end()
    })
    expect(status).toBe(413)
    expect((await c.get(kvPath('chunked-big'))).status).toBe(404)
    await unchanged()
    // Exactly the limit is accepted.
    const ctx = (await c.get(kvPath('big-canary'))).headers['x-causal-context']!
    expect((await c.put(kvPath('big-canary'), { body: Buffer.alloc(LIMIT, 1), headers: { 'X-Causal-Context': ctx } })).status).toBe(204)
    expect((await c.get(kvPath('big-canary'))).body.length).toBe(LIMIT)
  })
})

describe('GET /v1/kv/{key}', () => {
  test('404 for a key never written, without a context', async () => {
    const res = await c.get(kvPath('never'))
    problemOf(res, 'not-found', 404)
    expect(res.headers['x-causal-context']).toBeUndefined()
    expect(res.json.key).toBe('never')
  })

  test('Accept: application/json gives the JSON form for one version too; HEAD has no body', async () => {
    await c.put(kvPath('jsonform'), { body: '{"a":1}', headers: { 'Content-Type': 'application/json' } })
    const raw = await c.get(kvPath('jsonform'), { headers: { Accept: '*/*' } })
    expect(raw.json).toEqual({ a: 1 })
    const form = await c.get(kvPath('jsonform'), { headers: { Accept: 'application/json' } })
    expect(form.status).toBe(200)
    expect(form.json.siblings).toHaveLength(1)
    expect(Buffer.from(form.json.siblings[0].value, 'base64').toString()).toBe('{"a":1}')
    expect(form.headers['x-causal-context']).toBe(form.json.context)
    const notJson = await c.get(kvPath('jsonform'), { headers: { Accept: 'application/json;q=0, */*' } })
    expect(notJson.json).toEqual({ a: 1 })
    const head = await c.send('HEAD', kvPath('jsonform'))
    expect(head.status).toBe(200)
    expect(head.body.length).toBe(0)
    expect(head.headers['x-causal-context']).toBeDefined()
  })

  test('300 with every sibling when writes were concurrent', async () => {
    await c.put(kvPath('conc'), { body: 'one', headers: { 'Content-Type': 'text/plain' } })
    await c.put(kvPath('conc'), { body: 'two', headers: { 'Content-Type': 'text/csv' } })
    const res = await c.get(kvPath('conc'))
    expect(res.status).toBe(300)
    expect(res.headers['x-causal-context']).toBe(res.json.context)
    const sibs = res.json.siblings.map((s: { value: string, contentType: string }) => [Buffer.from(s.value, 'base64').toString(), s.contentType]).sort()
    expect(sibs).toEqual([['one', 'text/plain'], ['two', 'text/csv']])
  })

  test('read parameters: accepted within n, 400 outside', async () => {
    for (const query of ['r=1', 'r=one', 'r=quorum', 'r=all', 'pr=0', 'pr=1', 'pr=all', 'timeout_ms=5', 'r=1&pr=1&timeout_ms=100']) {
      expect((await c.get(kvPath('greeting'), { query })).status, query).toBe(200)
    }
    for (const [query, parameter] of [['r=2', 'r'], ['r=0', 'r'], ['r=x', 'r'], ['pr=2', 'pr'], ['timeout_ms=-3', 'timeout_ms'], ['w=1', 'w'], ['returnbody=true', 'returnbody']]) {
      const res = await c.get(kvPath('greeting'), { query })
      problemOf(res, 'invalid-parameter', 400)
      expect(res.json.parameter).toBe(parameter)
    }
  })
})

describe('DELETE /v1/kv/{key}', () => {
  test('a delete leaves a 404 carrying the context; a write with it re-creates the key with no stale sibling', async () => {
    const put = await c.put(kvPath('doomed'), { body: 'v1' })
    const del = await c.delete(kvPath('doomed'), { headers: { 'X-Causal-Context': put.headers['x-causal-context']! } })
    expect(del.status).toBe(204)
    const gone = await c.get(kvPath('doomed'))
    problemOf(gone, 'not-found', 404)
    const ctx = gone.headers['x-causal-context']
    expect(ctx).toBeDefined()
    expect((await c.put(kvPath('doomed'), { body: 'v2', headers: { 'X-Causal-Context': ctx! } })).status).toBe(204)
    const back = await c.get(kvPath('doomed'))
    expect(back.status).toBe(200)
    expect(back.body.toString()).toBe('v2')
  })

  test('a delete without a context removes what is stored; delete parameters are checked', async () => {
    await c.put(kvPath('blind-del'), { body: 'a' })
    await c.put(kvPath('blind-del'), { body: 'b' })
    expect((await c.delete(kvPath('blind-del'), { query: 'w=1&dw=1&pw=0&timeout_ms=1000' })).status).toBe(204)
    expect((await c.get(kvPath('blind-del'))).status).toBe(404)
    const unchanged = await canary(c, 'del-canary')
    for (const [query, parameter] of [['w=2', 'w'], ['dw=9', 'dw'], ['returnbody=true', 'returnbody'], ['r=1', 'r']]) {
      const res = await c.delete(kvPath('del-canary'), { query })
      problemOf(res, 'invalid-parameter', 400)
      expect(res.json.parameter).toBe(parameter)
    }
    await unchanged()
  })

  test('deleting a key never written is a 204 and leaves a 404 with a context', async () => {
    expect((await c.delete(kvPath('ghost'))).status).toBe(204)
    const res = await c.get(kvPath('ghost'))
    expect(res.status).toBe(404)
    expect(res.headers['x-causal-context']).toBeDefined()
  })
})

describe('node endpoints, methods and routes', () => {
  test('GET /v1/health and GET /v1/cluster', async () => {
    const health = await c.get('/v1/health')
    expect(health.status).toBe(200)
    expect(health.json).toMatchObject({ status: 'ok', nodeId: 'n1' })
    const cluster = await g.get('/v1/cluster')
    expect(cluster.status).toBe(200)
    expect(cluster.json.node).toEqual({ id: 'n1', address: guarded.address, status: 'up' })
    expect(cluster.json.peers).toEqual([{ address: '127.0.0.1:7902', status: 'unknown' }, { address: '127.0.0.1:7903', status: 'unknown' }])
    expect(cluster.json.ring).toMatchObject({ partitions: DEFAULT_CONFIG.partitions, replicas: 3, owners: [{ id: 'n1', partitions: DEFAULT_CONFIG.partitions }] })
  })

  test('wrong methods: 405 with Allow; unknown routes: 404', async () => {
    for (const [method, path] of [['POST', kvPath('k')], ['PATCH', kvPath('k')], ['POST', '/v1/health'], ['DELETE', '/v1/cluster'], ['PUT', '/v1/health']]) {
      const res = await c.send(method!, path!, { body: method === 'GET' ? undefined : 'x' })
      problemOf(res, 'method-not-allowed', 405)
      expect(res.headers.allow).toMatch(/GET/)
    }
    problemOf(await c.get('/v2/kv/x'), 'route-not-found', 404)
    problemOf(await c.get('/'), 'route-not-found', 404)
    problemOf(await c.get('/v1/kv'), 'route-not-found', 404)
  })

  test('oversized headers get 431 and slow clients are cut off; the node keeps serving', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${plain.url}${kvPath('k')}`, { headers: { 'X-Big': 'x'.repeat(20_000) } }, (r) => { r.resume(); resolve(r.statusCode!) })
      req.on('error', reject)
      req.end()
    })
    expect(status).toBe(431)
    // A client that sends half a request head and stalls is answered 408 and disconnected.
    const answer = await new Promise<string>((resolve, reject) => {
      const [host, port] = [plain.address.split(':')[0]!, Number(plain.address.split(':')[1])]
      const socket = connect(port, host, () => socket.write('GET /v1/health HTTP/1.1\r\nHost: x\r\n'))
      let text = ''
      socket.on('data', (d) => { text += d.toString() })
      socket.on('close', () => resolve(text))
      socket.on('error', reject)
    })
    expect(answer).toMatch(/^HTTP\/1\.1 408/)
    expect((await c.get('/v1/health')).status).toBe(200)
  })
})

describe('authentication (--auth-token-file)', () => {
  test('401 without a token or with a wrong one; health needs none; both listed tokens work', async () => {
    const anonymous = new ContractClient(guarded.url)
    for (const res of [await anonymous.get(kvPath('k')), await anonymous.put(kvPath('k'), { body: 'x' }), await anonymous.get('/v1/cluster'),
      await new ContractClient(guarded.url, 'wrong-token').get(kvPath('k'))]) {
      problemOf(res, 'unauthorized', 401)
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/)
    }
    expect((await anonymous.get('/v1/health')).status).toBe(200)
    expect((await g.put(kvPath('auth-k'), { body: 'x', query: 'w=1' })).status).toBe(204)
    expect((await new ContractClient(guarded.url, 'second-token-abcdef').get(kvPath('auth-k'), { query: 'r=1' })).status).toBe(200)
    // Nothing was stored by the refused write.
    expect((await g.get(kvPath('k'), { query: 'r=1' })).status).toBe(404)
  })
})

describe('quorums the node cannot meet (n=3, one reachable replica)', () => {
  test('503 saying how many replicas were needed and answered; nothing written', async () => {
    for (const query of ['', 'w=2', 'w=quorum', 'w=all', 'w=1&dw=2', 'w=1&pw=3']) {
      const res = await g.put(kvPath('q'), { query, body: 'x' })
      problemOf(res, 'quorum-unavailable', 503)
      expect(res.json).toMatchObject({ answered: 1, replicas: 3, key: 'q' })
      expect(res.json.needed).toBeGreaterThan(1)
    }
    const del = await g.delete(kvPath('q'), { query: 'w=all' })
    problemOf(del, 'quorum-unavailable', 503)
    expect(del.json.needed).toBe(3)
    for (const query of ['', 'r=2', 'r=all', 'r=1&pr=2']) {
      const res = await g.get(kvPath('q'), { query })
      problemOf(res, 'quorum-unavailable', 503)
      expect(res.json.answered).toBe(1)
    }
    expect((await g.get(kvPath('q'), { query: 'r=1' })).status).toBe(404)
    problemOf(await g.put(kvPath('q'), { query: 'w=4', body: 'x' }), 'invalid-parameter', 400)
  })
})

describe('the request listener on its own', () => {
  test('serves /v1/kv through the kv handler and the other routes through express', async () => {
    const put = await request(plain.listener).put(kvPath('via-listener')).set('Content-Type', 'text/plain').send('through the listener')
    expect(put.status).toBe(204)
    expect(put.headers['x-causal-context']).toBeDefined()
    const got = await c.get(kvPath('via-listener'))
    expect(got.body.toString()).toBe('through the listener')
    const bad = await request(plain.listener).get('/v1/kv/%FF')
    expect(bad.status).toBe(400)
    expect(bad.headers['content-type']).toBe('application/problem+json')
    expect((await request(plain.listener).get('/v1/kv')).status).toBe(404)
    expect((await request(plain.listener).get('/v1/health')).body.status).toBe('ok')
  })
})

describe('an upload the client abandons', () => {
  test('stores nothing and leaves the node serving', async () => {
    await new Promise<void>((resolve) => {
      const req = httpRequest(`${plain.url}${kvPath('abandoned')}`, { method: 'PUT', headers: { 'Transfer-Encoding': 'chunked' } })
      req.on('error', () => resolve())
      req.write('half of a value')
      setTimeout(() => { req.destroy(); resolve() }, 50)
    })
    expect((await c.get(kvPath('abandoned'))).status).toBe(404)
    expect((await c.get('/v1/health')).status).toBe(200)
  })
})

describe('a damaged stored object', () => {
  test('is a 500 problem naming the key; the node keeps serving other keys', async () => {
    await plain.storage.objects.put(storageKey('damaged'), Uint8Array.from([1, 200, 200]))
    const res = await c.get(kvPath('damaged'))
    problemOf(res, 'internal', 500)
    expect(res.json.key).toBe('damaged')
    expect((await c.get(kvPath('greeting'))).status).toBe(200)
  })
})

describe('the JSON copy of the document', () => {
  test('is read only while its hash matches the YAML beside it', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises')
    const { tmpdir } = await import('node:os')
    const { createHash } = await import('node:crypto')
    const dir = await mkdtemp(join(tmpdir(), 'levelring-contract-'))
    try {
      const yamlPath = join(dir, 'doc.yaml')
      const cachePath = join(dir, 'doc.json')
      const yaml = 'openapi: 3.1.0\ninfo: { title: from-yaml, version: "1" }\n'
      await writeFile(yamlPath, yaml)
      const sha256 = createHash('sha256').update(yaml).digest('hex')
      // No copy: the YAML is parsed.
      expect(readDocument(yamlPath, cachePath).info.title).toBe('from-yaml')
      // A copy whose hash matches is used as it is.
      await writeFile(cachePath, JSON.stringify({ sha256, document: { info: { title: 'from-copy' } } }))
      expect(readDocument(yamlPath, cachePath).info.title).toBe('from-copy')
      // An edited YAML makes the copy stale: the YAML wins.
      await writeFile(yamlPath, yaml.replace('from-yaml', 'edited'))
      expect(readDocument(yamlPath, cachePath).info.title).toBe('edited')
      // A damaged copy is ignored.
      await writeFile(cachePath, '{ not json')
      expect(readDocument(yamlPath, cachePath).info.title).toBe('edited')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('the build wrote a copy matching the repository document', async () => {
    const { readFile } = await import('node:fs/promises')
    const { createHash } = await import('node:crypto')
    const root = join(import.meta.dirname, '..', '..', '..')
    const yaml = await readFile(join(root, 'openapi', 'levelring.yaml'), 'utf8')
    const copy = JSON.parse(await readFile(join(root, 'dist', 'openapi', 'levelring.json'), 'utf8'))
    expect(copy.sha256).toBe(createHash('sha256').update(yaml).digest('hex'))
    expect(copy.document).toEqual(readDocument(join(root, 'openapi', 'levelring.yaml'), join(root, 'no-such-copy.json')))
  })
})
