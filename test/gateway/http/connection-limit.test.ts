import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { connect as connectTls } from 'node:tls'
import { makeCertificates } from '../../../tools/src/commands/certs/certificate-authority.js'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startNodeProcess, type NodeProcess } from '../../support/node-process.js'
import { waitUntil } from '../../support/process.js'
import { makeTempDir, removeDir } from '../../support/temp-dir.js'

// --max-connections-per-peer: one remote address holds at most that many connections open on a
// node's listener; one more is closed as soon as it is accepted, without an answer, and a slot
// that frees up is usable again at once.

const LIMIT = 4
let dir: string
let node: NodeProcess
let tlsNode: NodeProcess
let address: { host: string, port: number }
const sockets: Socket[] = []

beforeAll(async () => {
  dir = makeTempDir('levelring-connection-limit')
  node = await startNodeProcess(['--node-id', 'n1', '--data', join(dir, 'n1'), '--max-connections-per-peer', String(LIMIT)])
  const url = new URL(node.url)
  address = { host: url.hostname, port: Number(url.port) }
  await makeCertificates(join(dir, 'tls'), { nodes: ['t1'] })
  tlsNode = await startNodeProcess(['--node-id', 't1', '--data', join(dir, 't1'), '--max-connections-per-peer', '1',
    '--tls-cert', join(dir, 'tls', 't1.pem'), '--tls-key', join(dir, 'tls', 't1-key.pem')])
})
afterAll(async () => {
  for (const s of sockets) s.destroy()
  await node?.stop()
  await tlsNode?.stop()
  if (dir !== undefined) removeDir(dir)
})

/** A connection and what happens to it: the bytes it got, and whether the node closed it. */
async function open (): Promise<{ socket: Socket, received: () => string, closed: Promise<void> }> {
  const socket = connect(address)
  sockets.push(socket)
  let received = ''
  socket.on('data', (d: Buffer) => { received += d.toString('utf8') })
  socket.on('error', () => { /* a reset of a refused connection */ })
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  await new Promise<void>((resolve) => socket.once('connect', resolve))
  return { socket, received: () => received, closed }
}

test('connections over the per-address limit are closed at once, unanswered; a freed slot serves again', async () => {
  const held: Array<Awaited<ReturnType<typeof open>>> = []
  for (let i = 0; i < LIMIT; i++) held.push(await open())
  // The held ones are served (a keep-alive request each).
  for (const h of held) h.socket.write(`GET /v1/health HTTP/1.1\r\nHost: ${address.host}\r\n\r\n`)
  await waitUntil('the held connections are answered', () => held.every((h) => h.received().startsWith('HTTP/1.1 200')), 5_000, 20)

  const extra = await open()
  extra.socket.write(`GET /v1/health HTTP/1.1\r\nHost: ${address.host}\r\n\r\n`)
  const started = Date.now()
  await extra.closed
  expect(Date.now() - started).toBeLessThan(2_000)
  expect(extra.received()).toBe('')
  await waitUntil('the node logs the refusal', () => node.lines.some((l) => String(l.msg).includes('per-address limit') && l.limit === LIMIT), 5_000, 20)

  held[0]!.socket.destroy()
  await held[0]!.closed
  await waitUntil('a freed slot takes a new connection', async () => {
    const again = await open()
    again.socket.write(`GET /v1/health HTTP/1.1\r\nHost: ${address.host}\r\nConnection: close\r\n\r\n`)
    await again.closed
    return again.received().startsWith('HTTP/1.1 200')
  }, 5_000, 50)
  // The others kept their connections through all of it.
  for (const h of held.slice(1)) h.socket.write(`GET /v1/health HTTP/1.1\r\nHost: ${address.host}\r\n\r\n`)
  await waitUntil('the held connections still serve', () => held.slice(1).every((h) => h.received().split('HTTP/1.1 200').length === 3), 5_000, 20)
})

test('on a TLS listener too, a connection over the limit is closed before its handshake completes', async () => {
  const entry = tlsNode.lines.find((l) => String(l.msg).includes('listening'))!
  const [host, port] = [String(entry.address).split(':')[0]!, Number(String(entry.address).split(':')[1])]
  const ca = readFileSync(join(dir, 'tls', 'ca.pem'))
  const first = connectTls({ host, port, ca })
  sockets.push(first)
  await new Promise<void>((resolve, reject) => { first.once('secureConnect', resolve); first.once('error', reject) })
  const second = connectTls({ host, port, ca })
  sockets.push(second)
  const outcome = await new Promise<string>((resolve) => {
    second.once('secureConnect', () => resolve('handshake completed'))
    second.once('error', (err: NodeJS.ErrnoException) => resolve(`refused: ${err.code ?? err.message}`))
    second.once('close', () => resolve('refused: closed'))
  })
  expect(outcome).toMatch(/^refused/)
  expect(first.destroyed).toBe(false)
})
