import { writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  BUCKETS_PATH, MERGE_PATH, NODES_PATH, OBJECTS_PATH, PARTITION_PATH, ROOTS_PATH
} from '../../../gateway/src/anti-entropy/anti-entropy-protocol.js'
import { encodeOffer, HANDOVER_KEYS, HANDOVER_PATH, OFFER_PATH, PARTITIONS_PATH } from '../../../gateway/src/handoff/partition-stream.js'
import { InternodeBodyCaps, MAX_OBJECT_SIBLINGS } from '../../../gateway/src/internode/body-limits.js'
import { MAX_KEY_BYTES } from '../../../gateway/src/http/key-segment.js'
import { FAULTS_PATH } from '../../../gateway/src/internode/fault-injection.js'
import { InternodeAuth } from '../../../gateway/src/internode/internode-auth.js'
import {
  encodeForwardedWrite, keyPath, OBJECT_MEDIA_TYPE, PING_PATH, PROVE_PATH, REPLICAS_PATH, WRITES_PATH
} from '../../../gateway/src/internode/internode-protocol.js'
import { GOSSIP_ENTRIES_PATH, GOSSIP_PATH } from '../../../gateway/src/membership/gossip-protocol.js'
import { encodeObject } from '../../../gateway/src/replica/object-codec.js'
import { SIBLING_LIMIT } from '../../../gateway/src/replica/replica-store.js'
import type { StoredObject } from '../../../gateway/src/replica/stored-object.js'
import { startNodeProcess, type NodeProcess } from '../../support/node-process.js'
import { makeTempDir, removeDir } from '../../support/temp-dir.js'

// Internode bodies are capped per endpoint at what a legal message to it can be
// (internode/body-limits.ts): the largest legal messages fit, and a call over its cap is a 413
// problem+json answered from its Content-Length before a byte of the body is read, or as soon as a
// chunked body passes the cap; either way nothing is stored and the connection is closed.

const SETTINGS = { maxValueBytes: 2048, maxHeaderBytes: 16 * 1024, partitions: 64 }

/** A set of `siblings` concurrent values of `size` bytes each, every one by its own actor. */
function largeObject (siblings: number, size: number, contentType = 'application/octet-stream'): StoredObject {
  const actors = Array.from({ length: siblings }, (_, i) => `node-with-a-long-name-${String(i).padStart(40, '0')}@0123456789ab`)
  return {
    clock: new Map(actors.map((actor) => [actor, { counter: 2 ** 40, timestamp: Date.now() }])),
    siblings: actors.map((actor) => ({
      dot: { actor, counter: 2 ** 40 },
      value: { tombstone: false, contentType, lastModified: Date.now(), value: Buffer.alloc(size, 7) }
    }))
  }
}

describe('the caps', () => {
  const caps = new InternodeBodyCaps(SETTINGS)

  test('calls without a body (every GET) are capped at 0; every endpoint that takes one has a cap', () => {
    for (const path of [PING_PATH, PROVE_PATH, keyPath(REPLICAS_PATH, 'k')]) expect(caps.capFor('GET', path).bytes).toBe(0)
    for (const [method, path] of [['PUT', keyPath(REPLICAS_PATH, 'k')], ['POST', keyPath(WRITES_PATH, 'k')], ['POST', GOSSIP_PATH],
      ['POST', GOSSIP_ENTRIES_PATH], ['POST', PARTITIONS_PATH], ['POST', HANDOVER_PATH], ['POST', OFFER_PATH], ['POST', ROOTS_PATH], ['POST', NODES_PATH],
      ['POST', BUCKETS_PATH], ['POST', OBJECTS_PATH], ['POST', PARTITION_PATH], ['POST', MERGE_PATH], ['PUT', FAULTS_PATH]] as const) {
      expect(caps.capFor(method, path).bytes, `${method} ${path}`).toBeGreaterThan(0)
    }
    expect(caps.capFor('POST', '/internal/v1/anti-entropy/unknown').bytes).toBe(0)
  })

  test('a forwarded write of the largest value, with a long context and content type, fits the writes cap', () => {
    const cap = caps.capFor('POST', keyPath(WRITES_PATH, 'k')).bytes
    expect(cap).toBe(SETTINGS.maxValueBytes + SETTINGS.maxHeaderBytes + 64)
    const contentType = 'x/' + 'y'.repeat(SETTINGS.maxHeaderBytes / 4)
    const actors = Array.from({ length: 40 }, (_, i) => `a-node-${i}@0123456789ab`)
    const supersedes = { vv: new Map(actors.map((a) => [a, 2 ** 40])), unseen: [] }
    const write = encodeForwardedWrite({ value: { contentType, value: Buffer.alloc(SETTINGS.maxValueBytes) }, supersedes, counts: { w: 255, dw: 255, pw: 255, timeoutMs: 600_000 } })
    expect(write.length).toBeLessThanOrEqual(cap)
  })

  test('a stored object of twice the sibling limit of the largest values, each by its own actor, fits the replica cap', () => {
    expect(MAX_OBJECT_SIBLINGS).toBeGreaterThan(SIBLING_LIMIT)
    const bytes = encodeObject(largeObject(MAX_OBJECT_SIBLINGS, SETTINGS.maxValueBytes, 'text/plain; charset=utf-8')).length
    expect(bytes).toBeLessThanOrEqual(caps.capFor('PUT', keyPath(REPLICAS_PATH, 'k')).bytes)
    expect(bytes).toBeLessThanOrEqual(caps.capFor('POST', MERGE_PATH).bytes)
    expect(bytes).toBeLessThanOrEqual(caps.capFor('POST', HANDOVER_PATH).bytes)
  })

  test('an offer of a full hand-over batch of the longest keys fits the offer cap', () => {
    const longest = 'k'.repeat(MAX_KEY_BYTES)
    const offer = encodeOffer(Array.from({ length: HANDOVER_KEYS }, () => ({ key: longest, hash: Buffer.alloc(20, 0xff) })))
    expect(offer.length).toBeLessThanOrEqual(caps.capFor('POST', OFFER_PATH).bytes)
  })
})

describe('a node refuses oversize internode bodies', () => {
  const SECRET = `body-limits-secret-${process.pid}-0123456789`
  let dir: string
  let node: NodeProcess
  let address: { host: string, port: number }
  const caps = new InternodeBodyCaps(SETTINGS)
  const replicaCap = caps.capFor('PUT', keyPath(REPLICAS_PATH, 'k')).bytes
  const signer = new InternodeAuth([Buffer.from(SECRET)], 'a-peer')

  beforeAll(async () => {
    dir = makeTempDir('levelring-body-limits')
    writeFileSync(join(dir, 'secret'), SECRET)
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...SETTINGS, nodeId: 'n1', dataDir: join(dir, 'n1'), clusterSecretFile: join(dir, 'secret') }))
    node = await startNodeProcess(['--config', join(dir, 'config.json')])
    const url = new URL(node.url)
    address = { host: url.hostname, port: Number(url.port) }
  })
  afterAll(async () => {
    await node?.stop()
    if (dir !== undefined) removeDir(dir)
  })

  /** Open a connection, write `head`, then `body` chunks (as long as the socket takes them); resolve with all it answered and the bytes of body written. */
  async function exchange (head: string, chunks: Iterable<Buffer> = []): Promise<{ answer: string, sent: number }> {
    const socket: Socket = connect(address)
    let answer = ''
    let sent = 0
    let closed = false
    const done = new Promise<void>((resolve) => {
      socket.on('data', (d: Buffer) => { answer += d.toString('latin1') })
      socket.on('close', () => { closed = true; resolve() })
      socket.on('error', () => { /* reset after the answer: the node closed while we wrote */ })
    })
    await new Promise<void>((resolve) => socket.once('connect', resolve))
    socket.write(head)
    for (const chunk of chunks) {
      if (closed || answer.includes('\r\n\r\n')) break
      const ok = socket.write(`${chunk.length.toString(16)}\r\n`) && socket.write(chunk) && socket.write('\r\n')
      sent += chunk.length
      if (!ok) await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), done])
    }
    const timer = setTimeout(() => socket.destroy(), 10_000)
    await done
    clearTimeout(timer)
    return { answer, sent }
  }

  function signedHead (method: string, path: string, body: Buffer, extra: string): string {
    const headers = signer.signRequest(method, path, body, 'n1')
    return `${method} ${path} HTTP/1.1\r\nHost: ${address.host}\r\nContent-Type: ${OBJECT_MEDIA_TYPE}\r\n` +
      Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('') + extra + '\r\n'
  }

  function problemOf (answer: string): Record<string, unknown> {
    return JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>
  }

  async function stored (key: string): Promise<number> {
    const path = keyPath(REPLICAS_PATH, key)
    const res = await fetch(node.url + path, { headers: signer.signRequest('GET', path, undefined, 'n1') })
    await res.arrayBuffer()
    return res.status
  }

  test('a declared Content-Length over the cap is answered 413 at once, before the body is sent, and the connection closed', async () => {
    const path = keyPath(REPLICAS_PATH, 'declared')
    const { answer } = await exchange(signedHead('PUT', path, Buffer.alloc(0), `Content-Length: ${10 * 1024 ** 3}\r\n`))
    expect(answer).toMatch(/^HTTP\/1\.1 413 /)
    expect(answer).toMatch(/\r\nConnection: close\r\n/i)
    expect(answer).toMatch(/\r\nContent-Type: application\/problem\+json\r\n/i)
    expect(problemOf(answer)).toMatchObject({ type: 'urn:levelring:problem:value-too-large', status: 413, limit: replicaCap })
    expect(String(problemOf(answer).detail)).toMatch(/legal replicas call/)
    expect(await stored('declared')).toBe(404)
  })

  test('a chunked body is cut as soon as it passes the cap: the node reads little more than the cap, stores nothing, and closes', async () => {
    const path = keyPath(REPLICAS_PATH, 'chunked')
    const chunk = Buffer.alloc(64 * 1024, 1)
    const offered = replicaCap + 48 * 1024 * 1024
    const chunks = function * (): Generator<Buffer> { for (let i = 0; i < offered / chunk.length; i++) yield chunk }
    const { answer, sent } = await exchange(signedHead('PUT', path, Buffer.alloc(0), 'Transfer-Encoding: chunked\r\n'), chunks())
    expect(answer).toMatch(/^HTTP\/1\.1 413 /)
    expect(problemOf(answer)).toMatchObject({ status: 413, limit: replicaCap })
    // The sender got the cap through, plus what the two sockets' kernel buffers took in flight
    // (several MB on loopback), and no more: the node stopped reading and closed.
    expect(sent).toBeLessThan(replicaCap + 16 * 1024 * 1024)
    expect(await stored('chunked')).toBe(404)
  })

  test('an unsigned oversize call is a 401, not a 413: nothing of it is looked at', async () => {
    const { answer } = await exchange(`PUT ${keyPath(REPLICAS_PATH, 'unsigned')} HTTP/1.1\r\nHost: x\r\nContent-Length: ${10 * 1024 ** 3}\r\n\r\n`)
    expect(answer).toMatch(/^HTTP\/1\.1 401 /)
  })

  test('a GET with a body is a 413', async () => {
    const { answer } = await exchange(signedHead('GET', PING_PATH, Buffer.alloc(0), 'Content-Length: 10\r\n'))
    expect(answer).toMatch(/^HTTP\/1\.1 413 /)
  })

  test('the largest legal replica write is stored', async () => {
    const path = keyPath(REPLICAS_PATH, 'largest')
    const body = encodeObject(largeObject(SIBLING_LIMIT, SETTINGS.maxValueBytes))
    const res = await fetch(node.url + path, { method: 'PUT', body, headers: { ...signer.signRequest('PUT', path, body, 'n1'), 'Content-Type': OBJECT_MEDIA_TYPE } })
    expect(res.status, await res.text()).toBe(204)
    expect(await stored('largest')).toBe(200)
  })
})
