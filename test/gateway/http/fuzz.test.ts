import { writeFile } from 'node:fs/promises'
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { InternodeAuth } from '../../../gateway/src/internode/internode-auth.js'
import { REPLICAS_PATH } from '../../../gateway/src/internode/internode-protocol.js'
import { BUCKETS_PATH, encodeKeys, NODES_PATH, OBJECTS_PATH, PARTITION_PATH, ROOTS_PATH } from '../../../gateway/src/anti-entropy/anti-entropy-protocol.js'
import { encodeHandover, PARTITIONS_PATH } from '../../../gateway/src/handoff/partition-stream.js'
import { encodeObject } from '../../../gateway/src/replica/object-codec.js'
import { freePorts } from '../../support/process.js'
import { tempRoot } from '../../support/temp-dir.js'
import { startTestNode, type TestNode } from '../helpers/test-node.js'

// Malformed requests thrown at real nodes on loopback sockets (fast-check): every answer is a success the
// request may legitimately have, or a 4xx problem+json whose `status` is the HTTP status; never a 5xx; the
// node stays up; and the keys written before the run are stored exactly as they were.
// Reproduce a failure with LEVELRING_FUZZ_SEED=<seed printed by fast-check>.

const SEED = process.env.LEVELRING_FUZZ_SEED === undefined ? 20261206 : Number(process.env.LEVELRING_FUZZ_SEED)
const RUNS = process.env.LEVELRING_FUZZ_RUNS === undefined ? 300 : Number(process.env.LEVELRING_FUZZ_RUNS)
/** Each property stops early past this, so that the file stays fast on a loaded machine. */
const TIME_LIMIT_MS = 8_000
const PARAMS = { seed: SEED, numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS, endOnFailure: true }

const SECRET = 'fuzz-test-cluster-secret-0123456789'
const CLIENT_TOKEN = 'fuzz-client-token-0123456789'
const ADMIN_TOKEN = 'fuzz-admin-token-0123456789'
const MAX_VALUE_BYTES = 4096
/** Keys the properties must leave alone; every generated key starts with FUZZ_PREFIX instead. */
const KNOWN_KEYS = ['known-a', 'known-b', 'known/c']
const FUZZ_PREFIX = 'fz'

const root = tempRoot('levelring-fuzz')
/** A node alone, without tokens: data requests may succeed, on the fuzz keys only. */
let open: TestNode
/** A cluster member (its other member never starts) with client and admin tokens: public calls without a token are refused. */
let guarded: TestNode

interface Answer { status: number, headers: IncomingHttpHeaders, body: Buffer }

interface Call { method: string, path: string, headers?: Record<string, string | undefined>, body?: Uint8Array }

/** One request on a fresh connection, the path sent exactly as given (no normalisation, unlike fetch). */
async function send (node: TestNode, call: Call): Promise<Answer> {
  const [host, port] = [node.address.slice(0, node.address.lastIndexOf(':')), Number(node.address.slice(node.address.lastIndexOf(':') + 1))]
  // Content-Length always: node's client sends a DELETE's body with neither it nor chunked framing.
  const length = call.body === undefined ? {} : { 'Content-Length': String(call.body.length) }
  return await new Promise((resolve, reject) => {
    const req = httpRequest({ host, port, method: call.method, path: call.path, headers: { ...call.headers, ...length }, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(call.body === undefined ? undefined : Buffer.from(call.body))
  })
}

function describeCall (call: Call, answer: Answer): string {
  return `${call.method} ${call.path} ${JSON.stringify(call.headers ?? {})} body ${call.body?.length ?? 0} bytes → ${answer.status} ${answer.body.toString('utf8', 0, 300)}`
}

/** A 4xx problem document whose status is the HTTP status. */
function expectProblem (call: Call, answer: Answer, statuses?: readonly number[]): void {
  const what = describeCall(call, answer)
  if (statuses !== undefined) expect(statuses, what).toContain(answer.status)
  expect(answer.status, what).toBeGreaterThanOrEqual(400)
  expect(answer.status, what).toBeLessThan(500)
  expect(answer.headers['content-type'], what).toMatch(/^application\/problem\+json/)
  const problem = JSON.parse(answer.body.toString('utf8')) as { status?: unknown, type?: unknown }
  expect(problem.status, what).toBe(answer.status)
  expect(problem.type, what).toMatch(/^urn:levelring:problem:/)
}

/** What a node stores for the known keys: the stored bytes, and what a read answers (value and context). */
async function snapshot (node: TestNode, token?: string): Promise<unknown[]> {
  const out: unknown[] = []
  for (const key of KNOWN_KEYS) {
    const stored = await node.store.read(key)
    const read = await send(node, { method: 'GET', path: `/v1/kv/${encodeURIComponent(key)}`, headers: token === undefined ? {} : { Authorization: `Bearer ${token}` } })
    out.push({ key, stored: stored === undefined ? undefined : Buffer.from(encodeObject(stored)).toString('base64'), status: read.status, context: read.headers['x-causal-context'], body: read.body.toString('base64') })
  }
  return out
}

async function writeKnownKeys (node: TestNode, token?: string): Promise<void> {
  const auth = token === undefined ? {} : { Authorization: `Bearer ${token}` }
  for (const key of KNOWN_KEYS) {
    for (const value of ['one', 'two']) { // two writes without a context: two siblings
      const put = await send(node, { method: 'PUT', path: `/v1/kv/${encodeURIComponent(key)}?w=1`, headers: { ...auth, 'Content-Type': 'text/plain' }, body: Buffer.from(`${key} ${value}`) })
      expect(put.status, put.body.toString()).toBe(204)
    }
  }
}

async function expectHealthy (node: TestNode): Promise<void> {
  expect((await send(node, { method: 'GET', path: '/v1/health' })).status).toBe(200)
}

// ---- generators ----

const percentEscape = fc.integer({ min: 0, max: 255 }).map((b) => `%${b.toString(16).padStart(2, '0')}`)
/** A piece of a path: characters node lets through, escapes of any byte (invalid UTF-8 included), dot segments, slashes. */
const pathPiece = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,;=:@-]{1,12}$/),
  percentEscape,
  fc.constantFrom('%', '%G1', '%e2%82', '%c0%ae', '..', '.', '/', '//', '%2F', '%2e%2e', '%00', '?', '#'),
  fc.constantFrom('x'.repeat(1025), '%41'.repeat(1100))
)
/** Kept under 8,000 characters: a request head over 16 KiB is refused by node itself with a bare 431 (documented). */
const junkPieces = fc.array(pathPiece, { maxLength: 8 }).map((pieces) => FUZZ_PREFIX + pieces.join('')).filter((s) => s.length < 8_000)
/** Half of the keys are plain, so that requests also get past the key check to the parameters, contexts and bodies. */
const junkKey = fc.oneof(fc.stringMatching(/^[a-z0-9]{1,8}$/).map((k) => FUZZ_PREFIX + k), junkPieces)
const queryName = fc.constantFrom('r', 'w', 'pr', 'pw', 'dw', 'timeout_ms', 'returnbody', 'hints', 'sync', 'zzz', '', 'r[]')
const queryValue = fc.oneof(
  fc.constantFrom('', '-1', '0', '1', '3', '4', 'one', 'quorum', 'all', 'ALL', 'true', 'false', '1e3', '0x10', '9007199254740993', '600001', 'NaN', '+1', '%201', '%00', '%ff'),
  fc.integer({ min: -1e6, max: 1e9 }).map(String),
  fc.stringMatching(/^[A-Za-z0-9%._-]{0,10}$/)
)
const query = fc.array(fc.tuple(queryName, queryValue), { maxLength: 5 })
  .map((pairs) => pairs.length === 0 ? '' : `?${pairs.map(([n, v]) => `${n}=${v}`).join('&')}`)
const method = fc.oneof({ arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE'), weight: 3 }, fc.constantFrom('POST', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND'))
const base64Junk = fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b).toString('base64'))
const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,60}$/)
/** Contexts a node really handed out (for the known keys, so foreign to every generated key), filled before the properties run. */
const realContexts: string[] = []
/** A real context, whole (foreign: bound to another key), truncated, with one character changed, or with junk appended. */
const realContext = fc.tuple(fc.nat(), fc.nat(), fc.constantFrom('whole', 'truncated', 'changed', 'appended')).map(([which, at, how]) => {
  const context = realContexts[which % realContexts.length]!
  const i = at % context.length
  if (how === 'truncated') return context.slice(0, i)
  if (how === 'changed') return context.slice(0, i) + (context[i] === 'A' ? 'B' : 'A') + context.slice(i + 1)
  return how === 'appended' ? `${context}AAAA` : context
})
const headers = fc.record({
  'Content-Type': fc.oneof(headerValue, fc.constantFrom('application/json', 'text/plain; charset=utf-8', 'application/problem+json', '')),
  'X-Causal-Context': fc.oneof(base64Junk, headerValue, realContext, fc.constantFrom('', 'AQES', 'AQESAAAA', '====', 'A'.repeat(3000))),
  Authorization: fc.oneof(headerValue, fc.constantFrom('Bearer', 'Bearer ', `Bearer ${CLIENT_TOKEN.slice(1)}`, `Basic ${CLIENT_TOKEN}`, `bearer  ${'x'.repeat(200)}`)),
  Accept: fc.constantFrom('application/json', '*/*', 'text/html', '')
}, { requiredKeys: [] })
const body = fc.oneof(
  fc.constant(undefined),
  fc.uint8Array({ maxLength: 256 }),
  fc.constantFrom('{"seed":1}', '{"seed":"no-port"}', '[]', 'null', '{', '{"seed":"127.0.0.1:0"}').map((s) => Buffer.from(s)),
  fc.integer({ min: MAX_VALUE_BYTES - 2, max: MAX_VALUE_BYTES * 4 }).map((n) => new Uint8Array(n).fill(0xff))
)
const publicPath = fc.oneof(
  { arbitrary: fc.tuple(junkKey, query).map(([k, q]) => `/v1/kv/${k}${q}`), weight: 3 },
  fc.tuple(fc.constantFrom('/v1/cluster', '/v1/health', '/v1/admin/repair', '/v1/admin/join', '/v1/admin/leave', '/v1/admin/', '/v1/admin/zzz', '/v1/kv', '/v1/kv/', '/v1', '/'), query),
  fc.tuple(fc.constantFrom('/v1/', '/v1/admin/', '/v1/kv/', '/'), junkPieces, query)
).map((parts) => typeof parts === 'string' ? parts : parts.join(''))
const publicCall = fc.record({ method, path: publicPath, headers, body }, { requiredKeys: ['method', 'path', 'headers', 'body'] })
  .map((c): Call => ({ ...c, body: c.body ?? undefined }))

/** Whether `answer` is a success the request may legitimately have on a node without tokens. */
function legitimateSuccess (call: Call, answer: Answer): boolean {
  const path = call.path.split('?')[0]!
  if (answer.status === 200 && call.method === 'GET' && ['/v1/health', '/v1/cluster'].includes(path)) return true
  if (!path.startsWith(`/v1/kv/${FUZZ_PREFIX}`)) return false
  if (call.method === 'GET') return answer.status === 200 || answer.status === 300
  // No generated context is valid for a generated key (junk, or a known key's): a write may succeed only without one.
  if ((call.headers?.['X-Causal-Context'] ?? '') !== '') return false
  if (call.method === 'PUT') return answer.status === 200 || answer.status === 204
  return call.method === 'DELETE' && answer.status === 204
}

beforeAll(async () => {
  const [deadPort] = await freePorts(1)
  await writeFile(join(root, 'secret'), `${SECRET}\n`)
  await writeFile(join(root, 'tokens'), `${CLIENT_TOKEN}\n`)
  await writeFile(join(root, 'admin-tokens'), `${ADMIN_TOKEN}\n`)
  open = await startTestNode({ nodeId: 'fz-open', clusterSecretFile: join(root, 'secret'), maxValueBytes: MAX_VALUE_BYTES })
  guarded = await startTestNode({
    nodeId: 'fz-guarded', peers: [`fz-peer=127.0.0.1:${deadPort!}`], replicas: 2, maxValueBytes: MAX_VALUE_BYTES,
    clusterSecretFile: join(root, 'secret'), authTokenFile: join(root, 'tokens'), adminTokenFile: join(root, 'admin-tokens')
  })
  await writeKnownKeys(open)
  await writeKnownKeys(guarded, CLIENT_TOKEN)
  for (const key of KNOWN_KEYS) realContexts.push(String((await send(open, { method: 'GET', path: `/v1/kv/${encodeURIComponent(key)}` })).headers['x-causal-context']))
})

afterAll(async () => {
  await open?.stop()
  await guarded?.stop()
})

describe('public endpoints', () => {
  test('on a node without tokens: a legitimate success or a 4xx problem, never a 5xx; known keys unchanged', async () => {
    const before = await snapshot(open)
    await fc.assert(fc.asyncProperty(publicCall, async (call) => {
      const answer = await send(open, call)
      if (!legitimateSuccess(call, answer)) expectProblem(call, answer)
    }), PARAMS)
    await expectHealthy(open)
    expect(await snapshot(open)).toEqual(before)
  })

  test('on a node with tokens: without a valid token every call but /v1/health is a 401 problem', async () => {
    const before = await snapshot(guarded, CLIENT_TOKEN)
    await fc.assert(fc.asyncProperty(publicCall, async (call) => {
      const answer = await send(guarded, call)
      const path = call.path.split('?')[0]!
      if (path === '/v1/health' && answer.status === 200) return
      expectProblem(call, answer, path.startsWith('/v1/kv/') || path.startsWith('/v1/admin/') || path === '/v1/cluster' ? [401] : undefined)
    }), PARAMS)
    await expectHealthy(guarded)
    expect(await snapshot(guarded, CLIENT_TOKEN)).toEqual(before)
  })

  test('on a node with admin tokens: a client token on any /v1/admin/ call is a 403 problem', async () => {
    const before = await snapshot(guarded, CLIENT_TOKEN)
    const adminPath = fc.tuple(fc.oneof(fc.constantFrom('repair', 'join', 'leave', ''), junkPieces), query).map(([p, q]) => `/v1/admin/${p}${q}`)
    await fc.assert(fc.asyncProperty(method, adminPath, headers, body, async (m, path, h, b) => {
      const call = { method: m, path, headers: { ...h, Authorization: `Bearer ${CLIENT_TOKEN}` }, body: b ?? undefined }
      expectProblem(call, await send(guarded, call), [403])
    }), PARAMS)
    await expectHealthy(guarded)
    expect(await snapshot(guarded, CLIENT_TOKEN)).toEqual(before)
  })
})

describe('internode endpoints', () => {
  const internodePath = fc.oneof(
    fc.constantFrom('ping', 'prove', 'ring', 'gossip', 'gossip/entries', 'partitions', 'partitions/merge', 'partitions/offer', 'anti-entropy/roots',
      'anti-entropy/nodes', 'anti-entropy/buckets', 'anti-entropy/objects', 'anti-entropy/merge', 'anti-entropy/partition', 'faults', 'zzz', ''),
    junkKey.map((k) => `replicas/${k}`),
    junkKey.map((k) => `writes/${k}`),
    fc.constantFrom('replicas/', 'writes/', 'replicas/known-a')
  )
  const internodeQuery = fc.oneof(fc.constant(''), fc.constantFrom('?sync=1', '?hints=1', '?hint-for=fz-peer', '?hint-for=', '?sync=1&hint-for=%ff'), query)
  /** Bodies no endpoint can decode: random bytes, JSON of the wrong shape, and truncations of a real stored object. */
  const junkBody = fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 512 }),
    fc.constantFrom('{}', '[]', 'null', '{"digest":1}', '{"partitions":"x"}', '{"keys":[1]}').map((s) => Buffer.from(s)),
    fc.record({ cut: fc.integer({ min: 0, max: 1_000 }), of: fc.constantFrom('object', 'handover', 'keys') })
  )
  const signedCall = fc.record({
    method: fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'PATCH'),
    path: fc.tuple(internodePath, internodeQuery).map(([p, q]) => `/internal/v1/${p}${q}`),
    body: junkBody
  })
  /** Valid encodings to truncate: a stored object, a hand-over batch, an anti-entropy key list. */
  const realEncodings: Record<string, Uint8Array> = {}
  let realObject: Uint8Array
  /** POST endpoints that only read: what they answer changes nothing stored. */
  const READ_ONLY_POSTS = [ROOTS_PATH, NODES_PATH, BUCKETS_PATH, OBJECTS_PATH, PARTITION_PATH, PARTITIONS_PATH]

  beforeAll(async () => {
    const object = (await guarded.store.read('known-a'))!
    realObject = encodeObject(object)
    Object.assign(realEncodings, { object: realObject, handover: encodeHandover([{ key: 'known-a', object }]), keys: encodeKeys(KNOWN_KEYS) })
  })

  function bodyOf (b: Uint8Array | { cut: number, of: string }): Uint8Array {
    if (b instanceof Uint8Array) return b
    const real = realEncodings[b.of]!
    return real.subarray(0, Math.min(b.cut, real.length - 1))
  }

  test('unsigned or wrongly signed calls are 401 problems', async () => {
    const before = await snapshot(guarded, CLIENT_TOKEN)
    const stranger = new InternodeAuth([Buffer.from('not-this-cluster-secret-0123456789')], 'fz-peer')
    const member = new InternodeAuth([Buffer.from(SECRET)], 'fz-peer')
    await fc.assert(fc.asyncProperty(signedCall, fc.constantFrom('none', 'stranger', 'other-target', 'other-path', 'junk'), headers,
      async (c, how, extra) => {
        const body = bodyOf(c.body)
        const signing = {
          none: {},
          stranger: stranger.signRequest(c.method, c.path, body, 'fz-guarded'),
          'other-target': member.signRequest(c.method, c.path, body, 'fz-open'),
          'other-path': member.signRequest(c.method, `${c.path}x`, body, 'fz-guarded'),
          junk: { 'x-levelring-caller': 'fz-peer', 'x-levelring-target': 'fz-guarded', 'x-levelring-timestamp': String(Date.now()), 'x-levelring-nonce': 'A'.repeat(22), 'x-levelring-body-sha256': 'B'.repeat(43), 'x-levelring-signature': extra.Authorization ?? '' }
        }[how]
        const call = { method: c.method, path: c.path, headers: { ...extra, ...signing }, body }
        const answer = await send(guarded, call)
        // prove is the one unsigned endpoint: it answers a well-formed challenge nonce only.
        if (c.path.split('?')[0] === '/internal/v1/prove' && (answer.status === 200 || answer.status === 405)) return
        expectProblem(call, answer, [401])
      }), PARAMS)
    await expectHealthy(guarded)
    expect(await snapshot(guarded, CLIENT_TOKEN)).toEqual(before)
  })

  test('correctly signed calls with malformed bodies, paths or queries are 4xx problems, never 5xx', async () => {
    const before = await snapshot(guarded, CLIENT_TOKEN)
    const member = new InternodeAuth([Buffer.from(SECRET)], 'fz-peer')
    await fc.assert(fc.asyncProperty(signedCall, async (c) => {
      const body = bodyOf(c.body)
      const call = { method: c.method, path: c.path, headers: member.signRequest(c.method, c.path, body, 'fz-guarded'), body }
      const answer = await send(guarded, call)
      // Reads may succeed: a GET carries no body anyone decodes, and a few random bytes can be a valid request of a
      // read-only POST endpoint (a varint and an empty list are a buckets request). A replica read of an absent key
      // is a bare 404 (the protocol's "none stored"). Everything else must be refused.
      if ((call.method === 'GET' || READ_ONLY_POSTS.includes(call.path.split('?')[0]!)) && answer.status < 400) return
      if (call.method === 'GET' && call.path.startsWith(REPLICAS_PATH) && answer.status === 404 && answer.body.length === 0) return
      expectProblem(call, answer)
    }), PARAMS)
    await expectHealthy(guarded)
    expect(await snapshot(guarded, CLIENT_TOKEN)).toEqual(before)
  })

  test('a partition page request whose body is JSON null is refused with a 400', async () => {
    const member = new InternodeAuth([Buffer.from(SECRET)], 'fz-peer')
    const path = '/internal/v1/partitions'
    const body = Buffer.from('null')
    const call = { method: 'POST', path, headers: member.signRequest('POST', path, body, 'fz-guarded'), body }
    expectProblem(call, await send(guarded, call), [400])
  })

  test('a truncated stored object is refused with a 400', async () => {
    const member = new InternodeAuth([Buffer.from(SECRET)], 'fz-peer')
    const path = `${REPLICAS_PATH}known-a`
    const body = realObject.subarray(0, realObject.length - 1)
    const call = { method: 'PUT', path, headers: member.signRequest('PUT', path, body, 'fz-guarded'), body }
    expectProblem(call, await send(guarded, call), [400])
  })
})
