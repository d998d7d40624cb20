import { writeFile } from 'node:fs/promises'
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { isLoopbackAddress } from '../../../gateway/src/http/admin-auth.js'
import { ContractClient, kvPath, type CheckedResponse } from '../helpers/contract-client.js'
import { startTestNode, type TestNode } from '../helpers/test-node.js'
import { startNodeProcess, type NodeProcess } from '../../support/node-process.js'
import { collectOutput, freePorts, waitForExit } from '../../support/process.js'
import { tempRoot } from '../../support/temp-dir.js'

// Who may call /v1/admin/: real nodes on real sockets, every answer checked against openapi/levelring.yaml.

const CLIENT_TOKEN = 'client-token-0123456789'
const ADMIN_TOKEN = 'admin-token-0123456789'
const SECOND_ADMIN_TOKEN = 'admin-token-second-abcdef'

const root = tempRoot('levelring-admin-auth')
const secretFile = join(root, 'secret')
let dead: number[] // ports nothing listens on: a founding member that never starts, a seed that is not there
let guarded: NodeProcess

/** The admin calls, each with the body it needs; the join's seed is not there. */
function adminCalls (): Array<[path: string, body: string | undefined]> {
  return [['/v1/admin/join', JSON.stringify({ seed: `127.0.0.1:${dead[1]!}` })], ['/v1/admin/leave', undefined], ['/v1/admin/repair', undefined]]
}

async function post (client: ContractClient, path: string, body: string | undefined): Promise<CheckedResponse> {
  return await client.send('POST', path, body === undefined ? {} : { body, headers: { 'Content-Type': 'application/json' } })
}

function problemOf (res: CheckedResponse, type: string, status: number): void {
  expect(res.status, JSON.stringify(res.json)).toBe(status)
  expect(res.json.type).toBe(`urn:levelring:problem:${type}`)
}

/** What an admin call could change: the members, their states, and the ring. */
async function membershipAndRing (client: ContractClient): Promise<unknown> {
  const view = (await client.get('/v1/cluster')).json
  return { node: view.node, peers: view.peers, ring: view.ring }
}

beforeAll(async () => {
  dead = await freePorts(2)
  await writeFile(secretFile, 'admin-auth-test-cluster-secret\n')
  await writeFile(join(root, 'tokens'), `${CLIENT_TOKEN}\n`)
  await writeFile(join(root, 'admin-tokens'), `\n  ${ADMIN_TOKEN}  \n\n${SECOND_ADMIN_TOKEN}\n`)
  // A founding member of a two-node cluster (n = 2) whose other member never starts: leave stays refused.
  guarded = await startNodeProcess(['--node-id', 'adm1', '--data', join(root, 'adm1'), '--peers', `adm2=127.0.0.1:${dead[0]!}`,
    '--replicas', '2', '--cluster-secret-file', secretFile, '--auth-token-file', join(root, 'tokens'),
    '--admin-token-file', join(root, 'admin-tokens')])
})

afterAll(async () => {
  await guarded?.stop()
})

describe('isLoopbackAddress', () => {
  test('127.0.0.0/8, ::1 and their IPv4-mapped forms are loopback', () => {
    for (const address of ['127.0.0.1', '127.0.0.2', '127.255.255.254', '::1', '0:0:0:0:0:0:0:1', '0000:0000::0001',
      '::ffff:127.0.0.1', '::FFFF:127.1.2.3', '::ffff:7f00:1', '0:0:0:0:0:ffff:127.0.0.1']) {
      expect(isLoopbackAddress(address), address).toBe(true)
    }
  })

  test('every other address, a name, a malformed string or none is not', () => {
    for (const address of ['128.0.0.1', '126.255.255.255', '10.0.0.1', '0.0.0.0', '192.0.2.2', '::', '::2', 'fe80::1', 'fd00::1',
      '::ffff:10.0.0.1', '::ffff:8000:1', '::127.0.0.1', '64:ff9b::127.0.0.1', 'localhost', '127.1', '127.0.0.1.', '', undefined]) {
      expect(isLoopbackAddress(address), String(address)).toBe(false)
    }
  })
})

describe('a node with --admin-token-file', () => {
  test('no token: 401 with WWW-Authenticate; a client token: 403; the membership and ring are unchanged', async () => {
    const admin = new ContractClient(guarded.url, ADMIN_TOKEN)
    const before = await membershipAndRing(admin)
    expect(before).toMatchObject({ node: { id: 'adm1', status: 'up' }, ring: { replicas: 2 } })
    for (const [path, body] of adminCalls()) {
      for (const client of [new ContractClient(guarded.url), new ContractClient(guarded.url, 'not-a-token-of-this-node')]) {
        const res = await post(client, path, body)
        problemOf(res, 'unauthorized', 401)
        expect(res.headers['www-authenticate']).toMatch(/^Bearer/)
      }
      const res = await post(new ContractClient(guarded.url, CLIENT_TOKEN), path, body)
      problemOf(res, 'forbidden', 403)
      expect(res.json.detail).toMatch(/admin token/)
    }
    expect(await membershipAndRing(admin)).toEqual(before)
  })

  test('an admin token reaches the action: the join fails on its unreachable seed, leave is refused for n, repair runs', async () => {
    const admin = new ContractClient(guarded.url, ADMIN_TOKEN)
    const before = await membershipAndRing(admin)
    const [join, leave, repair] = adminCalls()
    problemOf(await post(admin, ...join!), 'peer-unreachable', 502)
    problemOf(await post(admin, ...leave!), 'cluster-state', 409)
    const report = await post(new ContractClient(guarded.url, SECOND_ADMIN_TOKEN), ...repair!)
    expect(report.status).toBe(200)
    expect(report.json.node).toBe('adm1')
    expect(await membershipAndRing(admin)).toEqual(before)
  })

  test('every path under /v1/admin/, in any spelling the router accepts, needs the admin token before it is routed', async () => {
    for (const path of ['/v1/admin/anything', '/V1/ADMIN/REPAIR', '/v1/admin/repair/', '/v1/admin/../admin/leave']) {
      problemOf(await new ContractClient(guarded.url).send('POST', path), 'unauthorized', 401)
    }
    problemOf(await new ContractClient(guarded.url, CLIENT_TOKEN).send('GET', '/v1/admin/'), 'forbidden', 403)
    problemOf(await new ContractClient(guarded.url, ADMIN_TOKEN).send('POST', '/v1/admin/anything'), 'route-not-found', 404)
    problemOf(await new ContractClient(guarded.url, ADMIN_TOKEN).send('GET', '/v1/admin/repair'), 'method-not-allowed', 405)
  })

  test('an admin token also serves as a client token; a client token still works where it did', async () => {
    for (const token of [ADMIN_TOKEN, CLIENT_TOKEN]) {
      const client = new ContractClient(guarded.url, token)
      expect((await client.get('/v1/cluster')).status).toBe(200)
      expect((await client.get(kvPath('admin-auth-k'), { query: 'r=1' })).status).toBe(404)
    }
    problemOf(await new ContractClient(guarded.url).get('/v1/cluster'), 'unauthorized', 401)
  })
})

test('an admin token file that cannot be read or holds no token stops the node from starting, naming the setting', async () => {
  const empty = join(root, 'empty-admin-tokens')
  await writeFile(empty, '# no token yet\n\n   \n')
  for (const [file, problem] of [[empty, /holds no token/], [join(root, 'absent'), /cannot read .*absent/]] as const) {
    await expect(startTestNode({ adminTokenFile: file }, join(root, 'bad-config'))).rejects.toMatchObject({
      code: 'LEVELRING_BAD_CONFIG', details: { setting: 'adminTokenFile' }, message: expect.stringMatching(problem)
    })
  }
})

describe('a node without --admin-token-file', () => {
  let loopback: TestNode
  beforeAll(async () => {
    loopback = await startTestNode({ nodeId: 'lo1', peers: [`lo2=127.0.0.1:${dead[0]!}`], replicas: 2, clusterSecretFile: secretFile })
  })
  afterAll(async () => { await loopback?.stop() })

  test('answers a caller on the loopback interface without any token', async () => {
    const client = new ContractClient(loopback.url)
    const [join, leave, repair] = adminCalls()
    expect((await post(client, ...repair!)).status).toBe(200)
    problemOf(await post(client, ...join!), 'peer-unreachable', 502)
    problemOf(await post(client, ...leave!), 'cluster-state', 409)
  })
})

/**
 * Whether this machine lets a test make a network namespace of its own (root, util-linux's unshare, iproute2's
 * ip): the remote-caller test runs its nodes and their caller inside one, on addresses no other host has.
 */
function canMakeNetworkNamespace (): boolean {
  const probe = spawnSync('unshare', ['--net', 'ip', 'link', 'set', 'lo', 'up'], { stdio: 'ignore' })
  return probe.status === 0
}
const namespaces = canMakeNetworkNamespace()
if (!namespaces) console.warn('admin-auth.test: cannot make a network namespace (needs root, unshare and ip); the remote-caller test is SKIPPED')

describe.skipIf(!namespaces)('a caller from a non-loopback address (inside a network namespace the test makes)', () => {
  interface Call { path: string, token: string, status: number, type?: string, detail?: string }
  let results: { open: Call[], guarded: Call[], health: number }
  beforeAll(async () => {
    const fixture = fileURLToPath(new URL('./fixtures/remote-admin-caller.mjs', import.meta.url))
    const bin = fileURLToPath(new URL('../../../bin/levelring.js', import.meta.url))
    const script = 'ip link set lo up && ip addr add 192.0.2.1/32 dev lo && ip addr add 192.0.2.2/32 dev lo && exec "$0" "$@"'
    const child = spawn('unshare', ['--net', 'sh', '-c', script, process.execPath, fixture, bin, join(root, 'netns'), join(root, 'admin-tokens'), ADMIN_TOKEN],
      { stdio: ['ignore', 'pipe', 'pipe'] })
    const output = collectOutput(child)
    const { code } = await waitForExit(child, 50_000)
    expect(code, output.stderr()).toBe(0)
    results = JSON.parse(output.stdout().trim().split('\n').pop()!)
  })

  test('is refused 403 by a node without --admin-token-file, whatever it sends; data endpoints still serve it', () => {
    expect(results.open).toHaveLength(6)
    for (const call of results.open) {
      expect(call.status, JSON.stringify(call)).toBe(403)
      expect(call.type).toBe('urn:levelring:problem:forbidden')
      expect(call.detail).toMatch(/--admin-token-file/)
    }
    expect(results.health).toBe(200)
  })

  test('is served with an admin token by a node with --admin-token-file', () => {
    const [none, admin] = results.guarded
    expect(none!.status).toBe(401)
    expect(admin!.status, JSON.stringify(admin)).toBe(409)
    expect(admin!.type).toBe('urn:levelring:problem:not-a-cluster-member')
  })
})
