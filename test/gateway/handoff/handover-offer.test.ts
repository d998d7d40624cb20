import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { pino } from 'pino'
import { request } from 'undici'
import { afterEach, expect, test } from 'vitest'
import { versionHash } from '../../../gateway/src/anti-entropy/version-hash.js'
import { GatewayError } from '../../../gateway/src/error/gateway-error.js'
import {
  decodeWanted, encodeOffer, handOver, HANDOVER_PATH, OFFER_PATH, PAGE_MEDIA_TYPE, partitionStreamRoute, StreamCounters, type HandoverEntry
} from '../../../gateway/src/handoff/partition-stream.js'
import { problemFor, sendProblem } from '../../../gateway/src/http/problem.js'
import { replicaUnreachable, type InternodeClient } from '../../../gateway/src/internode/internode-client.js'
import { DotCounter } from '../../../gateway/src/replica/dot-counter.js'
import { NodeStorage } from '../../../gateway/src/replica/node-storage.js'
import { encodeObject } from '../../../gateway/src/replica/object-codec.js'
import { ReplicaStore } from '../../../gateway/src/replica/replica-store.js'
import { liveSiblings, type StoredObject } from '../../../gateway/src/replica/stored-object.js'
import { tempDirPerTest } from '../../support/temp-dir.js'

// The hand-over offer (handoff/partition-stream.ts): a node sweeping partitions it gave up sends each
// batch's keys with their version hashes first, and only the objects a replica does not hold in that
// very version follow. Real stores on real files behind real HTTP servers on loopback.

const tempDir = tempDirPerTest('levelring-offer')
const open: Array<{ storage: NodeStorage, server: Server }> = []
afterEach(async () => {
  for (const { storage, server } of open.splice(0)) {
    server.close()
    await storage.close()
  }
})

/** The set written once by `actor` at `counter` (its clock entry stamped at `timestamp`). */
function version (actor: string, counter: number, text: string, timestamp = 0): StoredObject {
  return {
    clock: new Map([[actor, { counter, timestamp }]]),
    siblings: [{ dot: { actor, counter }, value: { tombstone: false, contentType: 'text/plain', lastModified: 1, value: Buffer.from(text) } }]
  }
}

const entry = (key: string, object: StoredObject): HandoverEntry => ({ key, object, hash: versionHash(encodeObject(object)) })

interface Target {
  readonly store: ReplicaStore
  readonly counters: StreamCounters
  readonly port: number
  /** Calls that reached the server, by path. */
  readonly calls: string[]
  syncs: number
}

/** A replica: a store on its own files, serving the partition endpoints; `refuse` answers those paths as the server says. */
async function target (refuse: (path: string, res: import('node:http').ServerResponse) => boolean = () => false): Promise<Target> {
  const storage = await NodeStorage.open(join(tempDir(), `target-${open.length}`))
  const store = new ReplicaStore(storage, { actor: 'target@000000000001', counter: await DotCounter.open(storage.meta), logger: pino({ level: 'silent' }) })
  const counters = new StreamCounters()
  const calls: string[] = []
  const t: Target = { store, counters, calls, port: 0, syncs: 0 }
  const route = partitionStreamRoute({ storage, store, counters, syncLog: async () => { t.syncs++; await storage.syncBarrier() }, maxBodyBytes: 16 * 1024 * 1024 })
  const server = createServer((req, res) => {
    calls.push(req.url!)
    if (refuse(req.url!, res)) return
    const readBody = async (): Promise<Buffer> => { const chunks: Buffer[] = []; for await (const c of req) chunks.push(c as Buffer); return Buffer.concat(chunks) }
    route.handle(req, res, req.url!, readBody).catch((err: unknown) => { sendProblem(res, problemFor(err, req.url!)) })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  open.push({ storage, server })
  return Object.assign(t, { port: (server.address() as AddressInfo).port })
}

/**
 * The part of InternodeClient that handOver uses, over real HTTP (without request signing, which
 * internode-auth tests cover): a 204 is an empty body, a 200 of the media type its body; any other
 * answer, or none, rejects as InternodeClient rejects it (a replica that gave no usable answer).
 */
function clientOf (ports: ReadonlyMap<string, number>): InternodeClient {
  return {
    async post (node: string, path: string, body: Buffer, mediaType: string): Promise<Buffer> {
      const address = `127.0.0.1:${ports.get(node)!}`
      let res
      try {
        res = await request(`http://${address}${path}`, { method: 'POST', body, headers: { 'content-type': mediaType } })
      } catch (err) {
        throw replicaUnreachable(node, address, `${(err as { code?: string }).code ?? ''}: ${(err as Error).message}`, false)
      }
      const answer = Buffer.from(await res.body.arrayBuffer())
      if (res.statusCode === 204) return Buffer.alloc(0)
      if (res.statusCode === 200 && res.headers['content-type'] === mediaType) return answer
      throw replicaUnreachable(node, address, `it answered ${res.statusCode} ${String(res.headers['content-type'])}: ${answer.subarray(0, 200).toString()}`, false)
    }
  } as unknown as InternodeClient
}

test('an offer answers the keys whose stored version hash differs from the offered one (older, newer, concurrent, none), after an fsync when it holds any', async () => {
  const t = await target()
  const offered = ['same', 'older', 'concurrent', 'none', 'newer', 'other-timestamps'].map((key) => entry(key, version('seed@000000000000', 2, `${key}-v2`, 5)))
  await t.store.merge('same', offered[0]!.object, { sync: false })
  await t.store.merge('older', version('seed@000000000000', 1, 'older-v1'), { sync: false })
  await t.store.merge('concurrent', version('other@000000000000', 1, 'concurrent-other'), { sync: false })
  await t.store.merge('newer', version('seed@000000000000', 3, 'newer-v3'), { sync: false })
  // The same versions with another clock timestamp (it only steers pruning): the same version hash.
  await t.store.merge('other-timestamps', version('seed@000000000000', 2, 'other-timestamps-v2', 99), { sync: false })
  const client = clientOf(new Map([['t', t.port]]))
  const wanted = decodeWanted(await client.post('t', OFFER_PATH, encodeOffer(offered), PAGE_MEDIA_TYPE, 5_000), offered.length)
  expect(wanted.map((i) => offered[i]!.key)).toEqual(['older', 'concurrent', 'none', 'newer'])
  expect(t.syncs).toBe(1)
  expect(t.counters.offeredKeysHeld).toBe(2)
  // Holding none of the keys offered, it answers without an fsync: nothing it says lets the sender drop a copy.
  await client.post('t', OFFER_PATH, encodeOffer([entry('absent', version('seed@000000000000', 1, 'x'))]), PAGE_MEDIA_TYPE, 5_000)
  expect(t.syncs).toBe(1)
  // A body that is not an offer is a 400 problem, and nothing is counted.
  const bad = await request(`http://127.0.0.1:${t.port}${OFFER_PATH}`, { method: 'POST', body: Buffer.from([1, 5, 0]), headers: { 'content-type': PAGE_MEDIA_TYPE } })
  expect(bad.statusCode).toBe(400)
  expect(JSON.parse(await bad.body.text())).toMatchObject({ type: 'urn:levelring:problem:invalid-parameter' })
  expect(t.counters.offeredKeysHeld).toBe(2)
})

test('a hand-over sends a target holding the offered version no object, and one holding an older or concurrent version the object, merged there', async () => {
  const holder = await target()
  const behind = await target()
  const batch = ['k0', 'k1', 'k2'].map((key) => entry(key, version('seed@000000000000', 2, `${key}-v2`)))
  for (const { key, object } of batch) await holder.store.merge(key, object, { sync: false })
  await behind.store.merge('k0', version('seed@000000000000', 1, 'k0-v1'), { sync: false }) // older
  await behind.store.merge('k1', version('other@000000000000', 1, 'k1-other'), { sync: false }) // concurrent
  const client = clientOf(new Map([['holder', holder.port], ['behind', behind.port]]))

  expect(await handOver(client, 'holder', batch)).toBe(0)
  expect(holder.calls).toEqual([OFFER_PATH])
  expect(holder.counters).toMatchObject({ offeredKeysHeld: 3, handoverKeysReceived: 0 })

  expect(await handOver(client, 'behind', batch)).toBe(3)
  expect(behind.calls).toEqual([OFFER_PATH, HANDOVER_PATH])
  expect(behind.counters).toMatchObject({ offeredKeysHeld: 0, handoverKeysReceived: 3 })
  // The older version is superseded; the concurrent one stays beside the offered one.
  expect(liveSiblings((await behind.store.read('k0'))!).map((s) => Buffer.from(s.value.value).toString())).toEqual(['k0-v2'])
  expect(liveSiblings((await behind.store.read('k1'))!).map((s) => Buffer.from(s.value.value).toString()).sort()).toEqual(['k1-other', 'k1-v2'])
  expect(liveSiblings((await behind.store.read('k2'))!).map((s) => Buffer.from(s.value.value).toString())).toEqual(['k2-v2'])
  // Offered again, k1 still differs (it holds both versions): its object goes again, and merges to the same set.
  expect(await handOver(client, 'behind', batch)).toBe(1)
})

test('a target that fails the offer gets no object and the hand-over rejects (the sweep keeps the keys); one without the offer endpoint gets every object', async () => {
  const batch = ['k0', 'k1'].map((key) => entry(key, version('seed@000000000000', 2, `${key}-v2`)))
  // The connection dropped unanswered, as a crashed or cut-off node does.
  const failing = await target((path, res) => { if (path === OFFER_PATH) res.socket?.destroy(); return path === OFFER_PATH })
  const client = clientOf(new Map([['failing', failing.port]]))
  const err = await handOver(client, 'failing', batch).then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(GatewayError)
  expect((err as GatewayError).code).toBe('LEVELRING_REPLICA_UNREACHABLE')
  expect(failing.calls).toEqual([OFFER_PATH])
  expect(failing.counters.handoverKeysReceived).toBe(0)
  expect(await failing.store.read('k0')).toBeUndefined()

  // A node of a release before the offer answers it 404: it gets the whole batch, merged.
  const older = await target((path, res) => {
    if (path !== OFFER_PATH) return false
    sendProblem(res, problemFor(new GatewayError('LEVELRING_ROUTE_NOT_FOUND', `no internode endpoint POST ${path}`), path))
    return true
  })
  expect(await handOver(clientOf(new Map([['older', older.port]])), 'older', batch)).toBe(2)
  expect(older.calls).toEqual([OFFER_PATH, HANDOVER_PATH])
  expect(older.counters.handoverKeysReceived).toBe(2)
  expect(liveSiblings((await older.store.read('k1'))!).map((s) => Buffer.from(s.value.value).toString())).toEqual(['k1-v2'])
})
