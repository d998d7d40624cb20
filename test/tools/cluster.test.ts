import { writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { expectOneLineFailure, levelring, levelringJson } from './levelring-cli.js'
import { startNodeProcess, type NodeProcess } from '../support/node-process.js'
import { freePorts } from '../support/process.js'
import { tempRoot } from '../support/temp-dir.js'

// `levelring status|members|ring|repair|join|leave` run as child processes against real nodes started with
// `levelring start` on loopback ports, with authentication on (so the bearer tokens are exercised).

const TOKEN = 'tools-test-token'
const ADMIN_TOKEN = 'tools-test-admin-token'
/** A peer the node knows only by address: nothing listens there (the discard port). */
const PEER = '127.0.0.1:9'

const root = tempRoot('levelring-cluster')
const adminTokens = join(root, 'admin-tokens')
const tokenFile = join(root, 'tokens')
let node: NodeProcess // runs alone, client tokens only
let url: string
let member: NodeProcess // a cluster member (its other member never starts) with client and admin tokens

beforeAll(async () => {
  const tokens = tokenFile
  writeFileSync(tokens, `${TOKEN}\n`)
  writeFileSync(adminTokens, `# the operator's\n${ADMIN_TOKEN}\n`)
  writeFileSync(join(root, 'secret'), 'tools-test-cluster-secret\n')
  node = await startNodeProcess(['--node-id', 'tools1', '--data', join(root, 'data'), '--peers', PEER, '--auth-token-file', tokens])
  url = node.url
  const [absent] = await freePorts(1)
  member = await startNodeProcess(['--node-id', 'tools2', '--data', join(root, 'member'), '--peers', `tools3=127.0.0.1:${absent!}`, '--replicas', '2',
    '--cluster-secret-file', join(root, 'secret'), '--auth-token-file', tokens, '--admin-token-file', adminTokens])
})
afterAll(async () => {
  await node?.stop()
  await member?.stop()
})

describe('the cluster as one node sees it', () => {
  test('status: health, members by state, ring, and what the node does not report yet', async () => {
    const json = await levelringJson(['status', '--node', url, '--token-file', tokenFile])
    expect(json.node).toBe(url)
    expect(json.health).toMatchObject({ status: 'ok', nodeId: 'tools1', storage: 'lsm-level' })
    expect(json.cluster.node).toMatchObject({ id: 'tools1', status: 'up' })
    expect(json.cluster.ring.replicas).toBe(3)

    const text = await levelring(['status', '--node', url.replace('http://', ''), '--token-file', tokenFile])
    expect(text.code).toBe(0)
    const address = url.replace('http://', '')
    expect(text.stdout).toMatch(new RegExp(`^node\\s+tools1 at ${address} \\(${url}\\)$`, 'm'))
    expect(text.stdout).toMatch(/^health\s+ok, up \d+s, storage lsm-level$/m)
    expect(text.stdout).toMatch(/^members\s+2 members: 1 up, 1 unknown$/m)
    expect(text.stdout).toMatch(new RegExp(`^ring\\s+${json.cluster.ring.partitions as number} partitions, n = 3, 1 owner$`, 'm'))
    expect(text.stdout).toMatch(/^hints pending\s+not reported by this node$/m)
    expect(text.stdout).toMatch(/^anti-entropy\s+not reported by this node$/m)
  })

  test('members and ring, as JSON and as text; the token can come from LEVELRING_TOKEN', async () => {
    const env = { LEVELRING_TOKEN: TOKEN, LEVELRING_NODE: url }
    const [members, ring, membersText, ringText] = await Promise.all([
      levelring(['members', '--json'], { env }),
      levelring(['ring', '--json'], { env }),
      levelring(['members'], { env }),
      levelring(['ring'], { env })
    ])
    for (const r of [members, ring, membersText, ringText]) expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(members.stdout).members).toEqual([
      { id: 'tools1', address: url.replace('http://', ''), status: 'up' },
      { address: PEER, status: 'unknown' }
    ])
    const r = JSON.parse(ring.stdout).ring
    expect(r.owners).toEqual([{ id: 'tools1', partitions: r.partitions }])
    expect(membersText.stdout).toMatch(new RegExp(`^\\*\\s+tools1\\s+${url.replace('http://', '')}\\s+up$`, 'm'))
    expect(membersText.stdout).toMatch(new RegExp(`^\\s+-\\s+${PEER}\\s+unknown$`, 'm'))
    expect(ringText.stdout).toMatch(new RegExp(`^ring: ${r.partitions as number} partitions, each key stored on n = 3 nodes$`, 'm'))
    expect(ringText.stdout).toMatch(new RegExp(`^tools1\\s+${r.partitions as number}\\s+100\\.0%\\s+█+$`, 'm'))
  })
})

describe('failures are one line', () => {
  test('no token: the node\'s 401 and what to do', async () => {
    const r = await levelring(['members', '--node', url], { env: { LEVELRING_TOKEN: '' } })
    expectOneLineFailure(r, new RegExp(`LEVELRING_UNAUTHORIZED: node ${url} refused GET /v1/cluster: 401 .*; pass --token-file FILE or set LEVELRING_TOKEN \\(or LEVELRING_TOKEN_FILE\\)`))
  })

  test('join and leave on a node that is not a cluster member: its 409, in one line', async () => {
    const runs = await Promise.all([
      levelring(['join', '--node', url, '--token-file', tokenFile, '--seed', PEER]),
      levelring(['leave', '--node', url, '--token-file', tokenFile])
    ])
    for (const [r, action] of runs.map((r, i) => [r, ['join', 'leave'][i]] as const)) {
      expectOneLineFailure(r, new RegExp(`LEVELRING_NODE_ERROR: node ${url}: POST /v1/admin/${action} answered 409 Not a cluster member: node tools1 runs alone`))
    }
  })

  test('repair on a node that is not a cluster member: its 409, in one line', async () => {
    const r = await levelring(['repair', '--node', url, '--token-file', tokenFile])
    expectOneLineFailure(r, new RegExp(`LEVELRING_NODE_ERROR: node ${url}: POST /v1/admin/repair answered 409 Not a cluster member: node tools1 is not a cluster member`))
  })

  test('a node that is not there: connection refused, naming it', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const p = (server.address() as { port: number }).port
        server.close(() => resolve(p))
      })
    })
    const r = await levelring(['status', '--node', `127.0.0.1:${port}`])
    expectOneLineFailure(r, new RegExp(`LEVELRING_NODE_UNREACHABLE: cannot reach node http://127.0.0.1:${port} \\(GET /v1/health\\): connection refused \\(ECONNREFUSED\\)`))
  })
})

describe('the membership and repair actions take an operator credential', () => {
  test('repair with --admin-token-file runs on a node that requires an admin token; so does LEVELRING_ADMIN_TOKEN_FILE', async () => {
    const r = await levelring(['repair', '--node', member.url, '--admin-token-file', adminTokens])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(new RegExp(`^repair: ${member.url} answered 200$`, 'm'))
    const json = await levelring(['repair', '--node', member.url, '--json'], { env: { LEVELRING_ADMIN_TOKEN_FILE: adminTokens, LEVELRING_TOKEN: '' } })
    expect(json.code, json.stderr).toBe(0)
    expect(JSON.parse(json.stdout)).toMatchObject({ action: 'repair', status: 200, answer: { node: 'tools2' } })
  })

  test('without it: the node\'s 401, and what to pass', async () => {
    const r = await levelring(['repair', '--node', member.url], { env: { LEVELRING_TOKEN: '', LEVELRING_ADMIN_TOKEN_FILE: '' } })
    expectOneLineFailure(r, new RegExp(`LEVELRING_UNAUTHORIZED: node ${member.url} refused POST /v1/admin/repair: 401 .*; pass --admin-token-file FILE`))
  })

  test('with a client token only: the node\'s 403, and what to pass; the read-only commands take the client token', async () => {
    for (const action of [['repair'], ['leave'], ['join', '--seed', PEER]]) {
      const r = await levelring([...action, '--node', member.url, '--token-file', tokenFile], { env: { LEVELRING_ADMIN_TOKEN_FILE: '' } })
      expectOneLineFailure(r, new RegExp(`LEVELRING_FORBIDDEN: node ${member.url} refused ${action[0]!} \\(POST /v1/admin/${action[0]!}\\): 403 .*client token.*; pass --admin-token-file FILE`))
    }
    expect((await levelring(['members', '--node', member.url, '--token-file', tokenFile])).code).toBe(0)
  })

  test('a token file that cannot be read or holds no token: one line naming it', async () => {
    const empty = join(root, 'empty-tokens')
    writeFileSync(empty, '\n  \n')
    expectOneLineFailure(await levelring(['leave', '--node', member.url, '--admin-token-file', empty]),
      new RegExp(`LEVELRING_BAD_ARGUMENT: --admin-token-file ${empty} holds no token`))
    expectOneLineFailure(await levelring(['leave', '--node', member.url, '--admin-token-file', join(root, 'absent')]),
      /LEVELRING_BAD_ARGUMENT: --admin-token-file .*absent: cannot read it: .*ENOENT/)
  })
})
