import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import { InternodeBodyCaps } from '../../../gateway/src/internode/body-limits.js'
import { FrameServer } from '../../../gateway/src/internode/frame-server.js'
import { InternodeAuth } from '../../../gateway/src/internode/internode-auth.js'
import { InternodeClient } from '../../../gateway/src/internode/internode-client.js'
import { internodeRoutes, type InternodeRouteOptions } from '../../../gateway/src/internode/internode-routes.js'
import type { Membership } from '../../../gateway/src/membership/membership.js'
import { PeerReachability } from '../../../gateway/src/membership/reachability.js'
import { createLogger } from '../../../gateway/src/node/logger.js'
import { DotCounter } from '../../../gateway/src/replica/dot-counter.js'
import { NodeStorage } from '../../../gateway/src/replica/node-storage.js'
import { ReplicaStore } from '../../../gateway/src/replica/replica-store.js'
import type { StoredObject } from '../../../gateway/src/replica/stored-object.js'
import { KeyHashIndex } from '../../../gateway/src/anti-entropy/key-hash-index.js'
import { storedDigest } from '../../../gateway/src/coordination/replica-digest.js'

// `npm run bench:internode [-- --only http|frames] [--calls N]`: what one internode call costs in
// CPU, caller and callee together, measured in one process over loopback: node "a" calls node "b"
// (a real replica store on a real engine in a temp directory) through the node's own internode
// client, once per transport (each call its own signed HTTP/1.1 request, or a frame on one
// authenticated connection), 16 calls in flight like a busy coordinator. The same calls made on the
// store directly give the part no transport can save. Run it under
// `node --cpu-prof --cpu-prof-dir=DIR dist/tools/src/bench/internode.js --only http` and read the
// profile with profile-summary.js to see where a transport's time goes.

const VALUE_BYTES = 10 * 1024
const IN_FLIGHT = 16
const SECRET = Buffer.from('internode bench secret, not a real one')

const args = process.argv.slice(2)
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined
const calls = args.includes('--calls') ? Number(args[args.indexOf('--calls') + 1]) : 20_000

interface Figure { readonly name: string, readonly perSecond: number, readonly cpuUsPerCall: number }

/** Run `call` `count` times, IN_FLIGHT at a time: calls a second and CPU µs per call (user + system, this process). */
async function measure (name: string, count: number, call: (i: number) => Promise<unknown>): Promise<Figure> {
  let next = 0
  const worker = async (): Promise<void> => { while (next < count) await call(next++) }
  const cpu = process.cpuUsage()
  const started = performance.now()
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
  const seconds = (performance.now() - started) / 1000
  const used = process.cpuUsage(cpu)
  return { name, perSecond: count / seconds, cpuUsPerCall: (used.user + used.system) / count }
}

async function main (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'levelring-internode-bench-'))
  const logger = createLogger('b', 'silent')
  const storage = await NodeStorage.open(dir)
  // Attached before any write, as a node does: each object write keeps its key hash index entry.
  const index = KeyHashIndex.attach(storage)
  const store = new ReplicaStore(storage, { actor: 'b@1', counter: await DotCounter.open(storage.meta), logger })
  const caps = new InternodeBodyCaps({ maxValueBytes: 1024 * 1024, maxHeaderBytes: 16 * 1024, partitions: 64 })
  const serverAuth = new InternodeAuth([SECRET], 'b')
  const options: InternodeRouteOptions = {
    nodeId: 'b', auth: serverAuth, store, ringDigest: () => undefined, logger,
    bodyCap: (method, path) => caps.capFor(method, path), index
  }
  const frames = new FrameServer(options)
  const server = createServer(internodeRoutes(options))
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => { frames.upgrade(req, socket, head) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`
  // The client needs of membership only who is where.
  const member = { id: 'b', address, weight: 1 }
  const membership = { member: (id: string) => (id === 'b' ? member : undefined), members: () => [member], onChange: () => () => {} } as unknown as Membership
  const client = (transport: 'http' | 'frames'): InternodeClient =>
    new InternodeClient({ membership, auth: new InternodeAuth([SECRET], 'a'), reachability: new PeerReachability('a'), logger, transport })

  const value = { value: Buffer.alloc(VALUE_BYTES, 7), contentType: 'application/octet-stream' }
  const KEYS = 2_000
  const objects: StoredObject[] = []
  for (let i = 0; i < KEYS; i++) objects.push((await store.write(`k${i}`, value, 'current', { sync: false })).object)
  // Mark every partition's index complete, as a node's anti-entropy does at start: digests are then served from it.
  const q = 64
  await index.build(Array.from({ length: q }, (_, p) => p), q, storage.objects, logger, () => false)

  const figures: Figure[] = []
  const round = async (label: string, read: (key: string) => Promise<unknown>, apply: (key: string, object: StoredObject) => Promise<unknown>): Promise<void> => {
    await measure('warm-up', 2_000, async (i) => read(`k${i % KEYS}`))
    figures.push(await measure(`${label}: replica read (GET)`, calls, async (i) => read(`k${i % KEYS}`)))
    figures.push(await measure(`${label}: replica write (PUT)`, calls, async (i) => apply(`k${i % KEYS}`, objects[i % KEYS]!)))
  }
  if (only === undefined) {
    await round('store, no transport', async (key) => store.read(key), async (key, object) => store.merge(key, object, { sync: false }))
    // What a replica does to answer a digest read: the object read and hashed, or its key hash index entry read.
    figures.push(await measure('store, no transport: digest, object read and hashed', calls, async (i) => storedDigest(store, undefined, `k${i % KEYS}`)))
    figures.push(await measure('store, no transport: digest, key hash index entry read', calls, async (i) => storedDigest(store, index, `k${i % KEYS}`)))
  }
  for (const transport of ['http', 'frames'] as const) {
    if (only !== undefined && only !== transport) continue
    const c = client(transport)
    await round(transport === 'http' ? 'HTTP/1.1, signed per request' : 'frames, one authenticated connection',
      async (key) => c.readReplica('b', key, 5_000), async (key, object) => c.applyReplica('b', key, object, false, 5_000))
    figures.push(await measure(`${transport === 'http' ? 'HTTP/1.1' : 'frames'}: replica digest read (GET ?digest=1, from the index)`, calls, async (i) => c.readReplicaDigest('b', `k${i % KEYS}`, 5_000)))
    await c.close()
  }
  await frames.close(100)
  await new Promise<void>((resolve) => server.close(() => resolve()))
  await storage.close()
  await rm(dir, { recursive: true, force: true })

  process.stdout.write(`internode calls, caller and callee in one process, ${VALUE_BYTES / 1024} KiB values, ${IN_FLIGHT} in flight, ${calls} calls each\n\n`)
  process.stdout.write('| call | calls/s | CPU µs per call |\n| --- | --- | --- |\n')
  for (const f of figures) process.stdout.write(`| ${f.name} | ${Math.round(f.perSecond).toLocaleString('en-US')} | ${f.cpuUsPerCall.toFixed(1)} |\n`)
  process.stdout.write(JSON.stringify({ bench: 'internode', valueBytes: VALUE_BYTES, inFlight: IN_FLIGHT, calls, figures }) + '\n')
}

await main()
