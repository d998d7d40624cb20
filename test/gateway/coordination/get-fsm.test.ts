import { pino } from 'pino'
import { afterEach, describe, expect, test } from 'vitest'
import { BackgroundWork } from '../../../gateway/src/coordination/background-work.js'
import { DeadlineWheel } from '../../../gateway/src/coordination/deadline-wheel.js'
import { GetFsm, SPECULATIVE_DATA_MS, type GetRequest } from '../../../gateway/src/coordination/get-fsm.js'
import type { ReplicaAccess, ReplicaRead } from '../../../gateway/src/coordination/replica-access.js'
import { digestOf, digestOfStored, NO_DIGEST } from '../../../gateway/src/coordination/replica-digest.js'
import type { DigestAnswer } from '../../../gateway/src/internode/internode-client.js'
import { DotCounter } from '../../../gateway/src/replica/dot-counter.js'
import { NodeStorage } from '../../../gateway/src/replica/node-storage.js'
import { ReplicaStore } from '../../../gateway/src/replica/replica-store.js'
import { isDeleted, liveSiblings, type StoredObject } from '../../../gateway/src/replica/stored-object.js'
import type { ReplicaTarget } from '../../../gateway/src/ring/placement.js'
import { NOTHING_SEEN, sameVersions } from '../../../gateway/src/version/dvv.js'
import { makeTempDir, removeDir } from '../../support/temp-dir.js'

// The coordinated read (GetFsm) over real replica stores, one per "node", each on its own engine in a
// temp dir. The access below stands in for the internode hop only: it calls the stores directly and
// records what was asked of whom, so the tests can tell a digest read from a data read.

const HANG_MS = 1_500

const opened: Array<{ storage: NodeStorage, dir: string }> = []
afterEach(async () => {
  for (const { storage, dir } of opened.splice(0)) {
    await storage.close()
    removeDir(dir)
  }
})

async function replica (actor: string): Promise<ReplicaStore> {
  const dir = makeTempDir('levelring-getfsm')
  const storage = await NodeStorage.open(dir)
  opened.push({ storage, dir })
  const counter = await DotCounter.open(storage.meta)
  return new ReplicaStore(storage, { actor, counter, logger: pino({ level: 'silent' }) })
}

interface Node {
  readonly store: ReplicaStore
  /** Its answers say it is rebuilding (it may be missing acknowledged writes). */
  rebuilding: boolean
  /** Every call to it fails, as a peer that refuses connections. */
  down: boolean
  /** Its data reads answer only after HANG_MS, as a peer that hangs. */
  hangsOnData: boolean
}

/** ReplicaAccess over the stores of `nodes`, this node being `selfId`; `calls` lists "data:node" and "digest:node". */
class StoresAccess implements ReplicaAccess {
  readonly calls: string[] = []
  constructor (readonly selfId: string, readonly nodes: Map<string, Node>) {}

  #node (id: string, kind: string): Node {
    this.calls.push(`${kind}:${id}`)
    const node = this.nodes.get(id)!
    if (node.down) throw new Error(`${id} is down`)
    return node
  }

  async read (node: string, key: string): Promise<StoredObject | undefined> {
    return this.nodes.get(node)!.store.read(key)
  }

  async readAnswer (id: string, key: string): Promise<ReplicaRead> {
    await Promise.resolve()
    const node = this.#node(id, 'data')
    if (node.hangsOnData) await new Promise((resolve) => setTimeout(resolve, HANG_MS))
    const object = await node.store.read(key)
    // Like the real access: this node's own read comes with its digest, a peer's set without.
    return id === this.selfId ? { object, digest: digestOfStored(await node.store.readEncoded(key)), rebuilding: node.rebuilding } : { object, rebuilding: node.rebuilding }
  }

  async readDigest (id: string, key: string): Promise<DigestAnswer> {
    await Promise.resolve()
    const node = this.#node(id, 'digest')
    return { digest: digestOfStored(await node.store.readEncoded(key)), rebuilding: node.rebuilding }
  }

  async apply (target: ReplicaTarget, key: string, object: StoredObject): Promise<void> {
    await this.#node(target.node, 'repair').store.merge(key, object, { sync: false })
  }

  async forward (): Promise<never> {
    throw new Error('no writes here')
  }
}

const value = (s: string) => ({ value: Buffer.from(s), contentType: 'text/plain' })
const texts = (o: StoredObject | undefined): string[] =>
  o === undefined ? [] : liveSiblings(o).map((s) => Buffer.from(s.value.value).toString()).sort()

/** Three nodes a, b, c (and the fallback f when asked), each with its own store. */
async function cluster (ids = ['a', 'b', 'c']): Promise<Map<string, Node>> {
  const nodes = new Map<string, Node>()
  for (const id of ids) nodes.set(id, { store: await replica(`${id}@1`), rebuilding: false, down: false, hangsOnData: false })
  return nodes
}

/** Write `text` at `at` and copy the resulting set to `to` (replication as the put FSM does it). */
async function write (nodes: Map<string, Node>, key: string, text: string | null, at: string, to: string[], supersede = true): Promise<StoredObject> {
  const { object } = await nodes.get(at)!.store.write(key, text === null ? null : value(text), supersede ? 'current' : NOTHING_SEEN, { sync: false })
  for (const id of to) await nodes.get(id)!.store.merge(key, object, { sync: false })
  return object
}

const PRIMARIES: ReplicaTarget[] = [{ node: 'a', primary: true }, { node: 'b', primary: true }, { node: 'c', primary: true }]

/** Run one read coordinated by `self`; resolves with its answer (or error) and, after read repair, the access's calls. */
async function read (nodes: Map<string, Node>, self: string, options: Partial<GetRequest> & { key: string }) {
  const access = new StoresAccess(self, nodes)
  const background = new BackgroundWork()
  const repaired: string[] = []
  const fsm = new GetFsm({ targets: PRIMARIES, r: 2, pr: 0, n: 3, timeoutMs: 2_000, ...options }, {
    access, deadlines: new DeadlineWheel(), background, logger: pino({ level: 'silent' }), onRepaired: (_, r) => repaired.push(...r)
  })
  const started = performance.now()
  const outcome = await fsm.run().then((object) => ({ object, error: undefined }), (error: Error & { details?: Record<string, unknown> }) => ({ object: undefined, error }))
  const ms = performance.now() - started
  await background.drain(10_000)
  return { ...outcome, ms, calls: access.calls, repaired: repaired.sort(), state: fsm.state }
}

describe('digests', () => {
  test('equal exactly when the versions are equal: a sibling or a tombstone more always differs, nothing is NO_DIGEST', async () => {
    const nodes = await cluster()
    const base = await write(nodes, 'k', 'v1', 'a', ['b', 'c'])
    const withSibling = await write(nodes, 'k', 'v2', 'b', [], false)
    const deleted = await write(nodes, 'k', null, 'c', [])
    const digests = [digestOf(base), digestOf(withSibling), digestOf(deleted)]
    expect(new Set(digests).size).toBe(3)
    expect(digests).not.toContain(NO_DIGEST)
    expect(digestOf(undefined)).toBe(NO_DIGEST)
    // The same versions on two replicas give the same digest, from the stored bytes or the decoded set.
    expect(digestOfStored(await nodes.get('a')!.store.readEncoded('k'))).toBe(digestOf(base))
    expect(digestOfStored(await nodes.get('b')!.store.readEncoded('k'))).toBe(digestOf(withSibling))
  })
})

describe('a coordinated read with digests', () => {
  test('replicas in step: the coordinator reads its own set and only digests of the others, and repairs nothing', async () => {
    const nodes = await cluster()
    await write(nodes, 'k', 'v1', 'a', ['b', 'c'])
    const { object, calls, repaired } = await read(nodes, 'b', { key: 'k' })
    expect(texts(object)).toEqual(['v1'])
    expect(calls.sort()).toEqual(['data:b', 'digest:a', 'digest:c'])
    expect(repaired).toEqual([])
  })

  test('a coordinator that is not a replica reads one set (the first primary\'s) and two digests', async () => {
    const nodes = await cluster()
    await write(nodes, 'k', 'v1', 'a', ['b', 'c'])
    const { object, calls } = await read(nodes, 'x', { key: 'k' })
    expect(texts(object)).toEqual(['v1'])
    expect(calls.sort()).toEqual(['data:a', 'digest:b', 'digest:c'])
  })

  test('a replica behind: its differing digest fetches its set, the answer is the newest, and it is repaired', async () => {
    const nodes = await cluster()
    await write(nodes, 'k', 'old', 'a', ['b', 'c'])
    await write(nodes, 'k', 'new', 'a', ['b']) // c missed it
    const { object, calls, repaired } = await read(nodes, 'a', { key: 'k', r: 3 })
    expect(texts(object)).toEqual(['new'])
    expect(calls.filter((c) => c.startsWith('data:')).sort()).toEqual(['data:a', 'data:c'])
    expect(repaired).toEqual(['c'])
    expect(texts(await nodes.get('c')!.store.read('k'))).toEqual(['new'])
  })

  test('the coordinator itself behind: the newer set another replica holds is fetched and answered with r=2', async () => {
    const nodes = await cluster()
    await write(nodes, 'k', 'old', 'a', ['b', 'c'])
    await write(nodes, 'k', 'new', 'b', ['c']) // a, the coordinator, missed it
    const { object, repaired } = await read(nodes, 'a', { key: 'k', r: 2 })
    expect(texts(object)).toEqual(['new'])
    expect(repaired).toEqual(['a'])
    expect(texts(await nodes.get('a')!.store.read('k'))).toEqual(['new'])
  })

  test('a replica that holds nothing answers a digest of nothing: no fetch, it counts as "not found" and is repaired', async () => {
    const nodes = await cluster()
    await write(nodes, 'k', 'v1', 'a', ['b']) // c never got it
    const { object, calls, repaired } = await read(nodes, 'a', { key: 'k', r: 3 })
    expect(texts(object)).toEqual(['v1'])
    expect(calls.filter((c) => c.startsWith('data:'))).toEqual(['data:a'])
    expect(repaired).toEqual(['c'])
  })

  test('a sibling on one replica only is never hidden: it is fetched, answered with r=3, and repaired everywhere', async () => {
    const nodes = await cluster()
    await write(nodes, 'k', 'v1', 'a', ['b', 'c'])
    await write(nodes, 'k', 'v2', 'b', [], false) // concurrent with v1, on b only
    const { object, repaired } = await read(nodes, 'a', { key: 'k', r: 3 })
    expect(texts(object)).toEqual(['v1', 'v2'])
    expect(repaired).toEqual(['a', 'c'])
    for (const id of ['a', 'b', 'c']) expect(texts(await nodes.get(id)!.store.read('k')), id).toEqual(['v1', 'v2'])
  })

  test('a sibling on one replica only reaches the others by read repair even when r=2 answered without it', async () => {
    const nodes = await cluster()
    await write(nodes, 'k', 'v1', 'a', ['b', 'c'])
    await write(nodes, 'k', 'v2', 'c', [], false)
    await read(nodes, 'a', { key: 'k', r: 2 })
    const reference = (await nodes.get('c')!.store.read('k'))!
    for (const id of ['a', 'b']) expect(sameVersions((await nodes.get(id)!.store.read('k'))!, reference), id).toBe(true)
  })

  test('a tombstone on one replica wins over the value it deleted and is repaired to the others', async () => {
    const nodes = await cluster()
    await write(nodes, 'k', 'v1', 'a', ['b', 'c'])
    await write(nodes, 'k', null, 'b', []) // deleted on b only
    const { object, repaired } = await read(nodes, 'a', { key: 'k', r: 3 })
    expect(object !== undefined && isDeleted(object)).toBe(true)
    expect(repaired).toEqual(['a', 'c'])
    for (const id of ['a', 'c']) expect(isDeleted((await nodes.get(id)!.store.read('k'))!), id).toBe(true)
  })

  test('a tombstone the coordinator holds is answered, never taken for "nothing" by replicas that hold nothing', async () => {
    const nodes = await cluster()
    await write(nodes, 'k', 'v1', 'a', [])
    await write(nodes, 'k', null, 'a', [])
    const { object, repaired } = await read(nodes, 'a', { key: 'k', r: 3 })
    expect(object !== undefined && isDeleted(object)).toBe(true)
    expect(repaired).toEqual(['b', 'c'])
  })

  test('pr counts only primaries: a fallback\'s matching digest meets r, never pr', async () => {
    const nodes = await cluster(['a', 'b', 'c', 'f'])
    await write(nodes, 'k', 'v1', 'a', ['b', 'f'])
    nodes.get('b')!.down = true
    const targets: ReplicaTarget[] = [{ node: 'a', primary: true }, { node: 'b', primary: true }, { node: 'f', primary: false, hintFor: 'c' }]
    const met = await read(nodes, 'a', { key: 'k', targets, r: 2, pr: 1 })
    expect(texts(met.object)).toEqual(['v1'])
    const short = await read(nodes, 'a', { key: 'k', targets, r: 2, pr: 2 })
    expect(short.error?.message).toMatch(/pr=2 was not met: 1 of the 3 replicas answered/)
    expect(short.state).toBe('done')
  })

  test('a rebuilding replica\'s matching digest counts toward r but not pr, and its "nothing" only with notfound_ok', async () => {
    const nodes = await cluster()
    await write(nodes, 'k', 'v1', 'a', ['b'])
    nodes.get('b')!.rebuilding = true
    expect(texts((await read(nodes, 'a', { key: 'k', r: 2, pr: 1 })).object)).toEqual(['v1'])
    expect((await read(nodes, 'a', { key: 'k', r: 3, pr: 3 })).error?.message).toMatch(/pr=3 was not met/)

    // c is rebuilding and holds nothing: its "not found" counts toward r only with notfound_ok.
    const empty = await cluster()
    await write(empty, 'k', 'v1', 'a', ['b'])
    empty.get('b')!.down = true
    empty.get('c')!.rebuilding = true
    expect((await read(empty, 'c', { key: 'nowhere', r: 2, notfoundOk: false })).error?.message).toMatch(/r=2 was not met: 1 of the 3/)
    expect((await read(empty, 'c', { key: 'nowhere', r: 2, notfoundOk: true })).error).toBeUndefined()
  })

  test('a data replica that fails: the replicas that answered digests are read in full instead', async () => {
    const nodes = await cluster()
    await write(nodes, 'k', 'v1', 'a', ['b', 'c'])
    nodes.get('a')!.down = true
    const { object, calls } = await read(nodes, 'x', { key: 'k', r: 2 })
    expect(texts(object)).toEqual(['v1'])
    expect(calls).toContain('data:b')
  })

  test(`a data replica that hangs costs the read about ${SPECULATIVE_DATA_MS} ms, not its deadline`, async () => {
    const nodes = await cluster()
    await write(nodes, 'k', 'v1', 'a', ['b', 'c'])
    nodes.get('a')!.hangsOnData = true
    const { object, ms } = await read(nodes, 'x', { key: 'k', r: 2, timeoutMs: 5_000 })
    expect(texts(object)).toEqual(['v1'])
    expect(ms).toBeGreaterThanOrEqual(SPECULATIVE_DATA_MS - 5)
    expect(ms).toBeLessThan(HANG_MS)
  })
})
