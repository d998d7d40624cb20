import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { expectOneLineFailure, levelring, levelringJson } from './levelring-cli.js'
import { tempRoot } from '../support/temp-dir.js'

// `levelring status|members|ring|repair|join|leave` run as child processes against a real node started with
// `levelring start` on a loopback port, with authentication on (so the bearer token is exercised).

const BIN = new URL('../../bin/levelring.js', import.meta.url).pathname
const TOKEN = 'tools-test-token'
/** A peer the node knows only by address: nothing listens there (the discard port). */
const PEER = '127.0.0.1:9'

const root = tempRoot('levelring-cluster')
let child: ChildProcess
let url: string

beforeAll(async () => {
  const tokens = join(root, 'tokens')
  writeFileSync(tokens, `${TOKEN}\n`)
  child = spawn(process.execPath, [BIN, 'start', '--listen', '127.0.0.1:0', '--node-id', 'tools1', '--data', join(root, 'data'),
    '--peers', PEER, '--auth-token-file', tokens, '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] })
  url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line) as { address?: string, msg?: string }
      if (typeof entry.address === 'string' && /listening/.test(entry.msg ?? '')) resolve(`http://${entry.address}`)
    })
    let err = ''
    child.stderr!.on('data', (d) => { err += String(d) })
    child.on('exit', (code) => reject(new Error(`levelring start exited ${String(code)}: ${err}`)))
  })
})
afterAll(async () => {
  if (child !== undefined && child.exitCode === null) {
    const exited = new Promise((resolve) => child.on('exit', resolve))
    child.kill('SIGTERM')
    await exited
  }
})

describe('the cluster as one node sees it', () => {
  test('status: health, members by state, ring, and what the node does not report yet', async () => {
    const json = await levelringJson(['status', '--node', url, '--token', TOKEN])
    expect(json.node).toBe(url)
    expect(json.health).toMatchObject({ status: 'ok', nodeId: 'tools1', storage: 'lsm-level' })
    expect(json.cluster.node).toMatchObject({ id: 'tools1', status: 'up' })
    expect(json.cluster.ring.replicas).toBe(3)

    const text = await levelring(['status', '--node', url.replace('http://', ''), '--token', TOKEN])
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
    expectOneLineFailure(r, new RegExp(`LEVELRING_UNAUTHORIZED: node ${url} refused GET /v1/cluster: 401 .*; pass --token or set LEVELRING_TOKEN`))
  })

  test('join and leave on a node that is not a cluster member: its 409, in one line', async () => {
    const runs = await Promise.all([
      levelring(['join', '--node', url, '--token', TOKEN, '--seed', PEER]),
      levelring(['leave', '--node', url, '--token', TOKEN])
    ])
    for (const [r, action] of runs.map((r, i) => [r, ['join', 'leave'][i]] as const)) {
      expectOneLineFailure(r, new RegExp(`LEVELRING_NODE_ERROR: node ${url}: POST /v1/admin/${action} answered 409 Not a cluster member: node tools1 runs alone`))
    }
  })

  test('repair on a node that is not a cluster member: its 409, in one line', async () => {
    const r = await levelring(['repair', '--node', url, '--token', TOKEN])
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
