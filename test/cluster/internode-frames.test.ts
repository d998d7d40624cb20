import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { afterAll, beforeAll, expect, test } from 'vitest'
import {
  decodeAnswer, encodeRequestFrame, FrameReader, FRAMES_PATH, FRAMES_PROTOCOL, openReceived, type FrameKeys, type FrameRequest
} from '../../gateway/src/internode/frame-codec.js'
import { InternodeAuth, SIGNED_HEADERS } from '../../gateway/src/internode/internode-auth.js'
import { keyPath, OBJECT_MEDIA_TYPE, REPLICAS_PATH } from '../../gateway/src/internode/internode-protocol.js'
import { ChannelError, FRAME_TIMEOUT, FrameChannel } from '../../gateway/src/internode/frame-channel.js'
import { TestCluster, type ClusterNode } from './helpers/test-cluster.js'
import { sendRaw, statusOf } from './helpers/raw-peer.js'

// Replica calls between members travel as frames on a connection opened by a signed upgrade
// (gateway/src/internode/frame-codec.ts). What an attacker on the path can capture from one (the
// upgrade, frames) must be worth nothing: not replayed, not moved to another connection, not altered.

let cluster: TestCluster
const sockets: Socket[] = []

beforeAll(async () => {
  cluster = await TestCluster.start({ size: 3, replicas: 3 })
})
afterAll(async () => {
  for (const s of sockets) s.destroy()
  await cluster?.close()
})

/** An upgraded connection as the test drives it: every answer frame it got (verified), and whether it closed. */
interface Opened {
  readonly socket: Socket
  readonly keys: FrameKeys
  readonly upgrade: Buffer
  readonly answers: Array<{ id: number, status: number, body: Buffer }>
  closed: boolean
}

function upgradeBytes (signer: InternodeAuth, target: string): { bytes: Buffer, nonce: string } {
  const headers = signer.signRequest('GET', FRAMES_PATH, undefined, target)
  let head = `GET ${FRAMES_PATH} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: ${FRAMES_PROTOCOL}\r\n`
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`
  return { bytes: Buffer.from(head + '\r\n'), nonce: headers[SIGNED_HEADERS.nonce]! }
}

/** Open a frame connection to `node` as member `caller`; fails the test unless the 101 is signed by `node`. */
async function open (node: ClusterNode, caller = 'node2'): Promise<Opened> {
  const signer = cluster.signer(caller)
  const { bytes, nonce } = upgradeBytes(signer, node.id)
  const [host, port] = node.address.split(':') as [string, string]
  const socket = connect(Number(port), host)
  sockets.push(socket)
  const opened: Opened = { socket, keys: signer.callerFrameKeys(nonce, node.id), upgrade: bytes, answers: [], closed: false }
  socket.write(bytes)
  const reader = new FrameReader(1 << 24)
  await new Promise<void>((resolve, reject) => {
    let head = Buffer.alloc(0)
    const onHead = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk])
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) return
      socket.off('data', onHead)
      const text = head.subarray(0, end).toString('latin1')
      const signature = /x-levelring-signature: (\S+)/i.exec(text)?.[1]
      if (!text.startsWith('HTTP/1.1 101') || !signer.answerIsFrom(node.id, 101, 'GET', FRAMES_PATH, nonce, Buffer.alloc(0), signature)) {
        reject(new Error(`no signed 101: ${text}`))
        return
      }
      socket.on('data', (more: Buffer) => {
        for (const frame of reader.push(more)) {
          const payload = openReceived(opened.keys.answer, frame)
          if (payload === undefined) throw new Error('an answer frame that does not verify')
          const answer = decodeAnswer(payload)
          opened.answers.push({ id: frame.id, status: answer.status, body: Buffer.from(answer.body) })
        }
      })
      resolve()
    }
    socket.on('data', onHead)
    socket.once('error', reject)
  })
  socket.on('error', () => {})
  socket.once('close', () => { opened.closed = true })
  return opened
}

async function until (what: string, done: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 50))
  expect(done(), what).toBe(true)
}

const read = (key: string): FrameRequest => ({ method: 'GET', path: keyPath(REPLICAS_PATH, key), requestId: '', contentType: '', body: Buffer.alloc(0) })
const write = (key: string, object: Buffer): FrameRequest => ({ method: 'PUT', path: keyPath(REPLICAS_PATH, key), requestId: '', contentType: OBJECT_MEDIA_TYPE, body: object })

/** The stored object of `key` on node1, in the storage encoding, from a frame read. */
async function storedBytes (key: string): Promise<Buffer> {
  const c = await open(cluster.nodes[0]!)
  c.socket.write(encodeRequestFrame(c.keys.request, 1, read(key)))
  await until('the read is answered', () => c.answers.length === 1)
  expect(c.answers[0]!.status).toBe(200)
  c.socket.destroy()
  return c.answers[0]!.body
}

async function publicStatus (key: string): Promise<number> {
  return (await fetch(`${cluster.nodes[0]!.url}/v1/kv/${key}?r=1`)).status
}

test('a connection opened by a signed upgrade serves replica reads and writes in order, each answer MACed by the node', async () => {
  expect((await fetch(`${cluster.nodes[0]!.url}/v1/kv/framed?w=3`, { method: 'PUT', body: 'over frames' })).status).toBe(204)
  const object = await storedBytes('framed')
  const c = await open(cluster.nodes[0]!)
  c.socket.write(Buffer.concat([
    encodeRequestFrame(c.keys.request, 1, read('framed')),
    encodeRequestFrame(c.keys.request, 2, write('framed-copy', object)),
    encodeRequestFrame(c.keys.request, 3, read('absent'))
  ]))
  await until('three answers', () => c.answers.length === 3)
  const byId = new Map(c.answers.map((a) => [a.id, a]))
  expect(byId.get(1)).toMatchObject({ status: 200, body: object })
  expect(byId.get(2)!.status).toBe(204)
  expect(byId.get(3)!.status).toBe(404)
  expect(await (await fetch(`${cluster.nodes[0]!.url}/v1/kv/framed-copy?r=1`)).text()).toBe('over frames')
  expect(c.closed).toBe(false)
})

test('a frame sent twice, moved to another connection, or altered by one byte closes the connection unanswered; nothing of it is written', async () => {
  expect((await fetch(`${cluster.nodes[0]!.url}/v1/kv/source?w=3`, { method: 'PUT', body: 'v' })).status).toBe(204)
  const object = await storedBytes('source')

  const a = await open(cluster.nodes[0]!)
  const first = encodeRequestFrame(a.keys.request, 1, write('replayed', object))
  a.socket.write(first)
  await until('the first delivery is answered', () => a.answers.length === 1)
  expect(a.answers[0]!.status).toBe(204)
  a.socket.write(first) // the same bytes again: an old sequence number
  await until('the replay closes the connection', () => a.closed)
  expect(a.answers).toHaveLength(1) // the replay was not served

  // Captured on one connection, sent on another: its MAC is under the first connection's keys.
  const captured = encodeRequestFrame(a.keys.request, 1, write('moved', object))
  const b = await open(cluster.nodes[0]!)
  b.socket.write(captured)
  await until('the moved frame closes the connection', () => b.closed)
  expect(b.answers).toHaveLength(0)

  const c = await open(cluster.nodes[0]!)
  const altered = encodeRequestFrame(c.keys.request, 1, write('altered', object))
  altered[altered.length - 40] = altered[altered.length - 40]! ^ 1
  c.socket.write(altered)
  await until('the altered frame closes the connection', () => c.closed)
  expect(c.answers).toHaveLength(0)
  for (const key of ['moved', 'altered']) expect(await publicStatus(key), key).toBe(404)
})

test('an upgrade replayed, signed for another node, without a signature or under another secret is refused (401)', async () => {
  const [node1, node2] = cluster.nodes as [ClusterNode, ClusterNode]
  const used = await open(node1)
  for (const node of [node1, node2]) {
    const answer = await sendRaw(node.address, used.upgrade)
    expect(statusOf(answer), `replayed to ${node.id}`).toBe(401)
    expect(answer.toString('utf8')).toMatch(/urn:levelring:problem:unauthorized/)
  }
  const unsigned = Buffer.from(`GET ${FRAMES_PATH} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: ${FRAMES_PROTOCOL}\r\n\r\n`)
  expect(statusOf(await sendRaw(node1.address, unsigned))).toBe(401)
  const foreign = new InternodeAuth([Buffer.from('another cluster entirely, 0123456789')], 'node2')
  expect(statusOf(await sendRaw(node1.address, upgradeBytes(foreign, node1.id).bytes))).toBe(401)
})

test('a client request offering another upgrade (h2c) is served as the HTTP/1.1 request it also is, its body included', async () => {
  const node1 = cluster.nodes[0]!
  const offer = 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n'
  const body = 'x'.repeat(100_000) // more than the first packet: the rest arrives after the upgrade event
  const put = await sendRaw(node1.address, Buffer.from(`PUT /v1/kv/offered?w=3 HTTP/1.1\r\nHost: x\r\n${offer}Content-Length: ${body.length}\r\n\r\n${body}`))
  expect(statusOf(put)).toBe(204)
  const got = await sendRaw(node1.address, Buffer.from(`GET /v1/kv/offered HTTP/1.1\r\nHost: x\r\n${offer}\r\n`))
  expect(statusOf(got)).toBe(200)
  expect(got.toString('latin1')).toContain(body)
  const chunked = await sendRaw(node1.address, Buffer.from(`PUT /v1/kv/chunked HTTP/1.1\r\nHost: x\r\n${offer}Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n`))
  expect(statusOf(chunked)).toBe(400)
  expect((await fetch(`${node1.url}/v1/kv/chunked?r=3`)).status).toBe(404)
})

/** A loopback relay to `address` that holds what the server sends for its first `holdMs` (a slow upgrade answer). */
async function slowRelay (address: string, holdMs: number): Promise<{ address: string, server: Server }> {
  const [host, port] = address.split(':') as [string, string]
  const server = createServer((client) => {
    const upstream = connect(Number(port), host)
    sockets.push(client, upstream)
    const opened = Date.now()
    client.on('data', (chunk) => upstream.write(chunk))
    upstream.on('data', (chunk) => {
      const wait = opened + holdMs - Date.now()
      if (wait <= 0) client.write(chunk)
      else { upstream.pause(); setTimeout(() => { client.write(chunk); upstream.resume() }, wait) }
    })
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

test('a call that times out while its connection is still opening takes no sequence number: the calls after it are answered', async () => {
  const node1 = cluster.nodes[0]!
  expect((await fetch(`${node1.url}/v1/kv/opening?w=3`, { method: 'PUT', body: 'v' })).status).toBe(204)
  const relay = await slowRelay(node1.address, 600)
  const channel = new FrameChannel({ auth: cluster.signer('node2'), node: node1.id, address: relay.address, connectTimeoutMs: 2_000 })
  try {
    const early = channel.call(read('opening'), 100)
    const late = channel.call(read('opening'), 5_000)
    const missed = await early.then(() => undefined, (err: unknown) => err)
    expect(missed).toBeInstanceOf(ChannelError)
    expect(missed).toMatchObject({ code: FRAME_TIMEOUT, sent: false })
    expect((await late).status).toBe(200)
    expect((await channel.call(read('opening'), 5_000)).status).toBe(200)
    expect(channel.usable).toBe(true)
  } finally {
    channel.close()
    relay.server.close()
  }
})
