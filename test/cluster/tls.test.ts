import { spawnSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { connect, type TLSSocket } from 'node:tls'
import { fileURLToPath } from 'node:url'
import { Agent, request } from 'undici'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { InternodeAuth } from '../../gateway/src/internode/internode-auth.js'
import { keyPath, OBJECT_MEDIA_TYPE, PING_PATH, REPLICAS_PATH } from '../../gateway/src/internode/internode-protocol.js'
import { encodeObject } from '../../gateway/src/replica/object-codec.js'
import { makeCertificates } from '../../tools/src/commands/certs/certificate-authority.js'
import { freePorts, sleep } from '../support/process.js'
import { makeTempDir, removeDir } from '../support/temp-dir.js'
import { ClusterNode } from './helpers/test-cluster.js'

// A 3-node cluster over TLS with mutual TLS between its nodes, its certificates made by
// `levelring certs`: clients read and write over HTTPS with every replica answering (w=3, r=3),
// plain HTTP to the port gets no answer, and an internode call that carries a correct request
// signature is still refused unless its connection presents a certificate of the cluster's CA.

const BIN = fileURLToPath(new URL('../../bin/levelring.js', import.meta.url))
const SECRET = `tls-test-secret-${process.pid}-0123456789`
const IDS = ['node1', 'node2', 'node3']

let dir: string
let tlsDir: string
let nodes: ClusterNode[] = []
let ca: Buffer
/** A client that trusts the cluster's CA and presents no certificate, as a public client does. */
let client: Agent

const url = (node: ClusterNode): string => `https://${node.address}`

beforeAll(async () => {
  dir = makeTempDir('levelring-tls')
  tlsDir = join(dir, 'tls')
  const made = spawnSync(process.execPath, [BIN, 'certs', '--dir', tlsDir, '--nodes', IDS.join(','), '--json'], { encoding: 'utf8', timeout: 30_000 })
  expect(made.status, made.stderr).toBe(0)
  expect(JSON.parse(made.stdout)).toMatchObject({ reusedCa: false, nodes: IDS.map((name) => ({ name })) })
  ca = readFileSync(join(tlsDir, 'ca.pem'))
  client = new Agent({ connect: { ca } })
  await writeFile(join(dir, 'secret'), SECRET)
  const ports = await freePorts(IDS.length)
  nodes = await Promise.all(IDS.map(async (id, i) => {
    const address = `127.0.0.1:${ports[i]!}`
    const config = {
      nodeId: id,
      listen: address,
      dataDir: join(dir, id),
      peers: IDS.flatMap((other, j) => (j === i ? [] : [`${other}=127.0.0.1:${ports[j]!}`])),
      replicas: 3,
      clusterSecretFile: join(dir, 'secret'),
      tlsCertFile: join(tlsDir, `${id}.pem`),
      tlsKeyFile: join(tlsDir, `${id}-key.pem`),
      tlsCaFile: join(tlsDir, 'ca.pem'),
      logLevel: 'info',
      defaults: { r: 'quorum', w: 'quorum', timeoutMs: 3_000 }
    }
    await writeFile(join(dir, `${id}.json`), JSON.stringify(config))
    return new ClusterNode(id, address, config.dataDir, join(dir, `${id}.json`))
  }))
  await Promise.all(nodes.map(async (n) => { await n.start() }))
  // Every node sees the others up: their gossip goes over mutual TLS.
  for (let i = 0; ; i++) {
    const views = await Promise.all(nodes.map(async (n) => (await get(n, '/v1/cluster')).json as { peers: Array<{ status: string }> }))
    if (views.every((v) => v.peers.length === 2 && v.peers.every((p) => p.status === 'up'))) break
    if (i === 100) throw new Error(`the nodes did not see each other up over TLS within 10 s: ${JSON.stringify(views)}`)
    await sleep(100)
  }
})

afterAll(async () => {
  await Promise.all(nodes.map(async (n) => n.stop()))
  await client?.close()
  if (dir !== undefined) removeDir(dir)
})

async function get (node: ClusterNode, path: string, dispatcher: Agent = client): Promise<{ status: number, json: unknown, text: string }> {
  const res = await request(url(node) + path, { dispatcher })
  const text = await res.body.text()
  let json: unknown
  try { json = JSON.parse(text) } catch { json = undefined }
  return { status: res.statusCode, json, text }
}

test('levelring certs signs more nodes with the CA it made, and their certificates chain to it', async () => {
  const again = await makeCertificates(tlsDir, { nodes: ['node4'], hosts: ['db4.example.internal', '10.1.2.3'] })
  expect(again.reusedCa).toBe(true)
  const caCert = new X509Certificate(ca)
  const node4 = new X509Certificate(readFileSync(again.nodes[0]!.certFile))
  expect(node4.verify(caCert.publicKey)).toBe(true)
  expect(node4.checkIssued(caCert)).toBe(true)
  expect(node4.subjectAltName).toBe('DNS:node4, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:db4.example.internal, IP Address:10.1.2.3')
  expect(statSync(again.nodes[0]!.keyFile).mode & 0o777).toBe(0o600)
  await expect(makeCertificates(tlsDir, { nodes: ['bad name'] })).rejects.toThrow(/neither a host name nor an IP address/)
})

test('the nodes serve HTTPS and say so', () => {
  for (const node of nodes) {
    const listening = node.lines.find((l) => String(l.msg).includes('listening'))!
    expect(listening).toMatchObject({ url: url(node), tls: 'https, mutual TLS between nodes' })
  }
})

test('writes with w=3 and reads with r=3 go over HTTPS and reach every replica', async () => {
  for (let i = 0; i < 10; i++) {
    const writer = nodes[i % 3]!
    const put = await request(`${url(writer)}/v1/kv/tls-key-${i}?w=3`, {
      method: 'PUT', dispatcher: client, body: `value ${i}`, headers: { 'content-type': 'text/plain' }
    })
    expect(put.statusCode, await put.body.text()).toBe(204)
  }
  for (let i = 0; i < 10; i++) {
    const reader = nodes[(i + 1) % 3]!
    const read = await request(`${url(reader)}/v1/kv/tls-key-${i}?r=3`, { dispatcher: client })
    expect(read.statusCode).toBe(200)
    expect(await read.body.text()).toBe(`value ${i}`)
  }
})

test('plain HTTP to a TLS port gets no answer', async () => {
  for (const node of nodes) {
    await expect(fetch(`http://${node.address}/v1/health`)).rejects.toThrow()
  }
})

test('a client that does not trust the cluster CA cannot connect', async () => {
  const untrusting = new Agent()
  try {
    await expect(request(`${url(nodes[0]!)}/v1/health`, { dispatcher: untrusting })).rejects.toThrow(/certificate/)
  } finally {
    await untrusting.close()
  }
})

test('the CLI talks to a TLS node with --ca', () => {
  const status = spawnSync(process.execPath, [BIN, 'members', '--node', nodes[1]!.address, '--ca', join(tlsDir, 'ca.pem'), '--json'], { encoding: 'utf8', timeout: 30_000 })
  expect(status.status, status.stderr).toBe(0)
  expect(JSON.parse(status.stdout)).toMatchObject({ node: url(nodes[1]!) })
  expect((JSON.parse(status.stdout) as { members: unknown[] }).members).toHaveLength(3)
  const without = spawnSync(process.execPath, [BIN, 'members', '--node', url(nodes[1]!)], { encoding: 'utf8', timeout: 30_000 })
  expect(without.status).not.toBe(0)
  expect(without.stderr).toMatch(/--ca/)
})

describeSignedCalls()

test('a node with a certificate of another CA cannot join: it is told its client certificate was refused, and the cluster keeps its members', async () => {
  const other = await makeCertificates(join(dir, 'other-ca'), { nodes: ['node4'] })
  // It trusts the cluster's CA (it can check the seed's certificate), but its own is another CA's.
  await writeFile(join(dir, 'both-cas.pem'), Buffer.concat([ca, readFileSync(other.caFile)]))
  const [port] = await freePorts(1)
  const config = {
    nodeId: 'node4',
    listen: `127.0.0.1:${port!}`,
    dataDir: join(dir, 'node4'),
    seeds: [nodes[0]!.address],
    clusterSecretFile: join(dir, 'secret'),
    tlsCertFile: other.nodes[0]!.certFile,
    tlsKeyFile: other.nodes[0]!.keyFile,
    tlsCaFile: join(dir, 'both-cas.pem'),
    logLevel: 'info'
  }
  await writeFile(join(dir, 'node4.json'), JSON.stringify(config))
  const intruder = new ClusterNode('node4', config.listen, config.dataDir, join(dir, 'node4.json'))
  try {
    await intruder.start()
    for (let i = 0; !intruder.lines.some((l) => String(l.msg).includes('peer refused our client certificate')); i++) {
      if (i === 100) throw new Error(`node4 never logged the refusal: ${JSON.stringify(intruder.lines.slice(-5))}`)
      await sleep(100)
    }
    const refusal = intruder.lines.find((l) => String(l.msg).includes('peer refused our client certificate'))!
    expect(refusal.detail).toMatch(/not signed by the cluster's CA/)
    for (const node of nodes) {
      const view = (await get(node, '/v1/cluster')).json as { peers: Array<{ id: string }> }
      expect(view.peers.map((p) => p.id).sort()).toEqual(IDS.filter((id) => id !== node.id))
    }
  } finally {
    await intruder.stop()
  }
})

/** Resolves with `socket` once its TLS handshake is done. */
async function secureSocket (socket: TLSSocket): Promise<TLSSocket> {
  await new Promise<void>((resolve, reject) => { socket.once('secureConnect', resolve); socket.once('error', reject) })
  return socket
}

/** Internode calls signed correctly with the cluster secret, over connections with and without a good certificate. */
function describeSignedCalls (): void {
  const signer = (): InternodeAuth => new InternodeAuth([Buffer.from(SECRET)], 'node2')
  const forged = {
    clock: new Map([['intruder@000000000000', { counter: 1, timestamp: 1 }]]),
    siblings: [{ dot: { actor: 'intruder@000000000000', counter: 1 }, value: { tombstone: false, contentType: 'text/plain', lastModified: 1, value: Buffer.from('forged') } }]
  }

  /** A signed ping and a signed replica write of `key` to node1 over `agent`. */
  async function signedCalls (agent: Agent, key: string): Promise<Array<{ status: number, body: string }>> {
    const target = nodes[0]!
    const ping = signer().signRequest('GET', PING_PATH, undefined, target.id)
    const body = encodeObject(forged)
    const path = keyPath(REPLICAS_PATH, key)
    const put = signer().signRequest('PUT', path, body, target.id)
    const answers = []
    for (const [method, p, headers, b] of [['GET', PING_PATH, ping, undefined], ['PUT', path, { ...put, 'content-type': OBJECT_MEDIA_TYPE }, body]] as const) {
      const res = await request(url(target) + p, { method, headers, body: b, dispatcher: agent })
      answers.push({ status: res.statusCode, body: await res.body.text() })
    }
    return answers
  }

  async function heldBy (node: ClusterNode, key: string): Promise<number> {
    const agent = new Agent({ connect: { ca, cert: readFileSync(join(tlsDir, 'node2.pem')), key: readFileSync(join(tlsDir, 'node2-key.pem')) } })
    try {
      const path = keyPath(REPLICAS_PATH, key)
      const res = await request(url(node) + path, { headers: signer().signRequest('GET', path, undefined, node.id), dispatcher: agent })
      await res.body.dump()
      return res.statusCode
    } finally {
      await agent.close()
    }
  }

  test('a signed internode call over a connection without a client certificate is refused (401) and changes nothing', async () => {
    for (const answer of await signedCalls(client, 'no-cert-victim')) {
      expect(answer.status).toBe(401)
      expect(JSON.parse(answer.body)).toMatchObject({ type: 'urn:levelring:problem:unauthorized', status: 401 })
      expect(JSON.parse(answer.body).detail).toMatch(/client certificate signed by the cluster's CA/)
    }
    expect(await heldBy(nodes[0]!, 'no-cert-victim')).toBe(404)
  })

  test('a resumed TLS session that never had a client certificate is refused (401) too', async () => {
    const target = nodes[0]!
    const [host, port] = [target.address.split(':')[0]!, Number(target.address.split(':')[1])]
    // A first connection without a certificate, kept only for its session ticket.
    const first = await secureSocket(connect({ host, port, ca }))
    const session = await new Promise<Buffer>((resolve) => {
      first.once('session', resolve)
      first.write(`GET /v1/health HTTP/1.1\r\nHost: ${target.address}\r\nConnection: close\r\n\r\n`)
    })
    first.destroy()
    const second = await secureSocket(connect({ host, port, ca, session }))
    expect(second.isSessionReused(), 'the second connection resumed the first one\'s session').toBe(true)
    const signed = signer().signRequest('GET', PING_PATH, undefined, target.id)
    const head = Object.entries(signed).map(([name, value]) => `${name}: ${value}\r\n`).join('')
    const answer = await new Promise<string>((resolve) => {
      let text = ''
      second.on('data', (d: Buffer) => { text += d.toString('utf8') })
      second.on('close', () => resolve(text))
      second.write(`GET ${PING_PATH} HTTP/1.1\r\nHost: ${target.address}\r\nConnection: close\r\n${head}\r\n`)
    })
    expect(answer).toMatch(/^HTTP\/1\.1 401 /)
    expect(answer).toMatch(/presented none/)
  })

  test('a signed internode call with a certificate of another CA is refused (401) and changes nothing', async () => {
    const other = await makeCertificates(join(dir, 'other-ca'), { nodes: ['node2'] })
    const agent = new Agent({ connect: { ca, cert: readFileSync(other.nodes[0]!.certFile), key: readFileSync(other.nodes[0]!.keyFile) } })
    try {
      for (const answer of await signedCalls(agent, 'other-ca-victim')) {
        expect(answer.status).toBe(401)
        expect(JSON.parse(answer.body).detail).toMatch(/not signed by the cluster's CA/)
      }
    } finally {
      await agent.close()
    }
    expect(await heldBy(nodes[0]!, 'other-ca-victim')).toBe(404)
  })

  test('the same signed calls with a certificate of the cluster CA are served (the signatures were correct)', async () => {
    const agent = new Agent({ connect: { ca, cert: readFileSync(join(tlsDir, 'node2.pem')), key: readFileSync(join(tlsDir, 'node2-key.pem')) } })
    try {
      const [ping, put] = await signedCalls(agent, 'cluster-ca-key')
      expect(ping!.status).toBe(200)
      expect(JSON.parse(ping!.body)).toMatchObject({ node: 'node1' })
      expect(put!.status).toBe(204)
    } finally {
      await agent.close()
    }
    expect(await heldBy(nodes[0]!, 'cluster-ca-key')).toBe(200)
  })
}

test('a node with a certificate of the cluster CA joins through a seed over mutual TLS', async () => {
  const made = await makeCertificates(tlsDir, { nodes: ['node5'] })
  const [port] = await freePorts(1)
  const config = {
    nodeId: 'node5',
    listen: `127.0.0.1:${port!}`,
    dataDir: join(dir, 'node5'),
    seeds: [`https://${nodes[1]!.address}`],
    clusterSecretFile: join(dir, 'secret'),
    tlsCertFile: made.nodes[0]!.certFile,
    tlsKeyFile: made.nodes[0]!.keyFile,
    tlsCaFile: join(tlsDir, 'ca.pem'),
    logLevel: 'info'
  }
  await writeFile(join(dir, 'node5.json'), JSON.stringify(config))
  const joiner = new ClusterNode('node5', config.listen, config.dataDir, join(dir, 'node5.json'))
  try {
    await joiner.start()
    // The seed proved itself over TLS, the gossip went through, and every member learns of the new one.
    for (let i = 0; ; i++) {
      const views = await Promise.all(nodes.map(async (n) => (await get(n, '/v1/cluster')).json as { peers: Array<{ id: string }> }))
      if (views.every((v) => v.peers.some((p) => p.id === 'node5'))) break
      if (i === 100) throw new Error(`the members did not learn of node5 within 10 s: ${JSON.stringify(views.map((v) => v.peers.map((p) => p.id)))}`)
      await sleep(100)
    }
    expect(joiner.lines.some((l) => String(l.msg).includes('refused'))).toBe(false)
  } finally {
    await joiner.stop()
  }
})
