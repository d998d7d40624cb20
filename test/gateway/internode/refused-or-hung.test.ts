import { afterAll, beforeAll, expect, test } from 'vitest'
import { createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { writeFile } from 'node:fs/promises'
import { freePorts } from '../../support/process.js'
import { makeTempDir, removeDir } from '../../support/temp-dir.js'
import { startTestNode, type TestNode } from '../helpers/test-node.js'

// Only "nothing listens there" takes a member down at once. A member whose port accepts connections
// but answers nothing (a stopped process: the kernel still completes the handshake) is hung or slow,
// and that is the phi detector's to judge: a call to it that times out, even one never sent because
// its frame connection was still opening, must not count as a refused connection.

let dir: string
let node: TestNode
let hung: Server
const held: Socket[] = []
let hungPort: number
let closedPort: number

beforeAll(async () => {
  dir = makeTempDir('levelring-refused')
  await writeFile(join(dir, 'secret'), 'refused-or-hung-test-secret-0123456789')
  const [own, a, b] = await freePorts(3) as [number, number, number]
  hungPort = a
  closedPort = b
  hung = createServer((socket) => { held.push(socket) }) // accepts, reads, never answers
  await new Promise<void>((resolve) => hung.listen(hungPort, '127.0.0.1', resolve))
  node = await startTestNode({
    nodeId: 'node1',
    listen: { host: '127.0.0.1', port: own },
    peers: [{ id: 'hung', address: `127.0.0.1:${hungPort}` }, { id: 'gone', address: `127.0.0.1:${closedPort}` }],
    replicas: 3,
    partitions: 16,
    clusterSecretFile: join(dir, 'secret'),
    antiEntropyIntervalMs: 0
  }, join(dir, 'node1'))
}, 30_000)

afterAll(async () => {
  await node?.stop()
  for (const socket of held) socket.destroy()
  await new Promise<void>((resolve) => { if (hung === undefined) resolve(); else hung.close(() => { resolve() }) })
  removeDir(dir)
})

test('a call to a port that accepts and never answers times out without marking a refusal; a closed port is refused', async () => {
  const client = node.cluster!.client
  const reachability = node.cluster!.reachability
  // The first call opens the frame connection, whose upgrade is never answered: the call is never sent.
  const first = await client.readReplica('hung', 'k', 300).catch((err: unknown) => err as { code?: string, details?: { notApplied?: boolean } })
  expect(first).toMatchObject({ code: 'LEVELRING_REPLICA_UNREACHABLE', details: { notApplied: true } })
  expect(reachability.refusedAt('hung')).toBeUndefined()
  expect(reachability.state('hung')).toBe('down') // this call failed; the member's liveness is still the detector's

  const gone = await client.readReplica('gone', 'k', 300).catch((err: unknown) => err as { code?: string, details?: { notApplied?: boolean } })
  expect(gone).toMatchObject({ code: 'LEVELRING_REPLICA_UNREACHABLE', details: { notApplied: true } })
  expect(reachability.refusedAt('gone')).toBeTypeOf('number')
  expect(node.cluster!.membership.isUp('gone')).toBe(false)
})
