import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { GatewayError } from '../../../gateway/src/error/gateway-error.js'
import { errorCode } from '../helpers/error-code.js'
import type { MerkleEntry, MerkleShape } from '../../../gateway/src/anti-entropy/merkle-tree.js'
import { DEFAULT_MERKLE_SHAPE, MerkleTree } from '../helpers/key-merkle-tree.js'
import { decodeBucketEntries, decodeNodeHashes, encodeBucketEntries, encodeNodeHashes } from '../../../gateway/src/anti-entropy/merkle-codec.js'
import { diffMerkle, type MerklePeer } from '../../../gateway/src/anti-entropy/merkle-diff.js'
import { seededRandom } from '../../support/random.mjs'

const key = (i: number): Buffer => Buffer.from(`key-${String(i).padStart(7, '0')}`)
const valueHash = (v: string): Buffer => createHash('sha1').update(v).digest()
const entry = (i: number, v = `value-${i}`): MerkleEntry => ({ key: key(i), valueHash: valueHash(v) })

/** A peer reached through the byte formats, as over internode RPC: every answer is encoded, counted and decoded. */
function overTheWire (tree: MerkleTree): MerklePeer & { bytes: number } {
  const peer = {
    shape: tree.shape,
    bytes: 0,
    async nodeHashes (level: number, indices: readonly number[]): Promise<Buffer[]> {
      const wire = encodeNodeHashes(tree.nodeHashes(level, indices))
      peer.bytes += wire.length
      return decodeNodeHashes(wire)
    },
    async bucketEntries (indices: readonly number[]): Promise<MerkleEntry[][]> {
      const wire = encodeBucketEntries(tree.bucketEntries(indices))
      peer.bytes += wire.length
      return decodeBucketEntries(wire)
    }
  }
  return peer
}

describe('MerkleTree', () => {
  it('has a root that depends on the contents only, not on insertion order or history', () => {
    const entries = Array.from({ length: 2000 }, (_, i) => entry(i))
    const a = MerkleTree.build(entries)
    const rng = seededRandom(5)
    const b = MerkleTree.build([...entries].sort(() => rng() - 0.5))
    expect(a.root().equals(b.root())).toBe(true)
    expect(a.size).toBe(2000)
    // Updates and removes applied incrementally land on the same root as a fresh build of the result.
    for (let i = 0; i < 500; i++) b.update(key(i), valueHash(`changed-${i}`))
    for (let i = 500; i < 700; i++) expect(b.remove(key(i))).toBe(true)
    for (let i = 2000; i < 2100; i++) b.update(key(i), valueHash(`new-${i}`))
    const expected = MerkleTree.build([
      ...Array.from({ length: 500 }, (_, i) => entry(i, `changed-${i}`)),
      ...Array.from({ length: 1300 }, (_, i) => entry(i + 700)),
      ...Array.from({ length: 100 }, (_, i) => entry(i + 2000, `new-${i + 2000}`))
    ])
    expect(b.size).toBe(1900)
    expect(b.root().equals(expected.root())).toBe(true)
    expect(b.root().equals(a.root())).toBe(false)
    // Removing everything gets back to the empty tree.
    for (const e of [...b.entries()]) b.remove(e.key)
    expect(b.root().equals(new MerkleTree().root())).toBe(true)
    expect(b.size).toBe(0)
  })

  it('clones into an independent snapshot', () => {
    const live = MerkleTree.build(Array.from({ length: 300 }, (_, i) => entry(i)))
    live.update(key(1), valueHash('dirty, not yet rehashed'))
    const snapshot = live.clone()
    expect(snapshot.root().equals(live.root())).toBe(true)
    const root = snapshot.root()
    live.update(key(2), valueHash('after the snapshot'))
    live.remove(key(3))
    expect(snapshot.root().equals(root)).toBe(true)
    expect(snapshot.get(key(3))).toBeDefined()
    expect(snapshot.size).toBe(300)
    expect(live.size).toBe(299)
    snapshot.update(key(4), valueHash('only in the snapshot'))
    expect(live.get(key(4))!.equals(valueHash('value-4'))).toBe(true)
  })

  it('treats a same-value update and a missing-key remove as no-ops', () => {
    const t = MerkleTree.build([entry(1), entry(2)])
    const root = t.root()
    t.update(key(1), valueHash('value-1'))
    expect(t.remove(key(3))).toBe(false)
    expect(t.root().equals(root)).toBe(true)
    expect(t.get(key(1))!.equals(valueHash('value-1'))).toBe(true)
    expect(t.get(key(3))).toBeUndefined()
    t.update(key(1), valueHash('other'))
    expect(t.root().equals(root)).toBe(false)
    t.update(key(1), valueHash('value-1'))
    expect(t.root().equals(root)).toBe(true)
  })

  it('rehashes lazily, only the depth nodes above each changed bucket', () => {
    const t = MerkleTree.build(Array.from({ length: 10_000 }, (_, i) => entry(i)))
    t.root()
    // A fresh tree hashes all 1 + 16 + 256 interior nodes once.
    expect(t.interiorHashesComputed).toBe(273)
    t.update(key(42), valueHash('x'))
    t.update(key(42), valueHash('y'))
    t.remove(key(43))
    const sameBucket = t.bucketOf(key(42)) === t.bucketOf(key(43))
    const before = t.interiorHashesComputed
    t.root()
    const rehashed = t.interiorHashesComputed - before
    // Two buckets share the root and maybe more; at most 2 x depth, at least depth.
    expect(rehashed).toBeGreaterThanOrEqual(DEFAULT_MERKLE_SHAPE.depth)
    expect(rehashed).toBeLessThanOrEqual(sameBucket ? 3 : 6)
    t.root()
    expect(t.interiorHashesComputed - before).toBe(rehashed)
  })

  it('keys of one bucket come back sorted; bucket hashes follow their entries', () => {
    const t = MerkleTree.build(Array.from({ length: 20_000 }, (_, i) => entry(i)))
    const [b] = t.bucketEntries([7])
    expect(b!.length).toBeGreaterThan(0)
    const sorted = [...b!].sort((x, y) => Buffer.compare(x.key, y.key))
    expect(b!.map(e => e.key.toString())).toEqual(sorted.map(e => e.key.toString()))
    for (const e of b!) expect(t.bucketOf(e.key)).toBe(7)
    const rebuilt = MerkleTree.build(b!)
    expect(rebuilt.nodeHashes(3, [7])[0]!.equals(t.nodeHashes(3, [7])[0]!)).toBe(true)
    expect(errorCode(() => t.nodeHashes(4, [0]))).toBe('CLUSTER_INVALID_OPTION')
    expect(errorCode(() => t.nodeHashes(1, [16]))).toBe('CLUSTER_INVALID_OPTION')
    expect(errorCode(() => t.bucketEntries([4096]))).toBe('CLUSTER_INVALID_OPTION')
  })

  it('rejects bad shapes and value hashes', () => {
    for (const shape of [{ fanout: 1, depth: 3 }, { fanout: 16, depth: 0 }, { fanout: 257, depth: 1 }, { fanout: 16, depth: 7 }, { fanout: 2.5, depth: 2 }]) {
      expect(errorCode(() => new MerkleTree(shape))).toBe('CLUSTER_INVALID_MERKLE_SHAPE')
    }
    const t = new MerkleTree({ fanout: 2, depth: 1 })
    expect(errorCode(() => t.update(key(1), Buffer.alloc(0)))).toBe('CLUSTER_INVALID_OPTION')
    expect(errorCode(() => t.update(key(1), Buffer.alloc(256)))).toBe('CLUSTER_INVALID_OPTION')
    expect(t.size).toBe(0)
  })

  it('builds from an async iterator, as from an engine scan', async () => {
    async function * scan (): AsyncGenerator<MerkleEntry> {
      for (let i = 0; i < 1000; i++) yield entry(i)
    }
    const t = await MerkleTree.buildAsync(scan(), { fanout: 4, depth: 2 })
    expect(t.root().equals(MerkleTree.build(Array.from({ length: 1000 }, (_, i) => entry(i)), { fanout: 4, depth: 2 }).root())).toBe(true)
  })
})

describe('Merkle byte formats', () => {
  it('refuses a bucket list whose entry has an empty value hash, naming the offset', () => {
    const wire = encodeBucketEntries([[{ key: Buffer.from('k'), valueHash: Buffer.from([7]) }]])
    const emptied = Buffer.from(wire)
    emptied[4 + 4 + 4 + 1] = 0 // the value hash length of the only entry
    let caught: unknown
    try { decodeBucketEntries(emptied) } catch (err) { caught = err }
    expect(caught).toBeInstanceOf(GatewayError)
    expect((caught as GatewayError).code).toBe('CLUSTER_CORRUPT_MERKLE')
    expect((caught as Error).message).toContain('at byte 13')
  })

  it('round-trips node hash lists and bucket lists, and refuses truncated ones', () => {
    const t = MerkleTree.build(Array.from({ length: 500 }, (_, i) => entry(i)))
    const hashes = t.nodeHashes(1, [0, 3, 15])
    expect(decodeNodeHashes(encodeNodeHashes(hashes))).toEqual(hashes)
    expect(errorCode(() => decodeNodeHashes(Buffer.alloc(21)))).toBe('CLUSTER_CORRUPT_MERKLE')
    const buckets = t.bucketEntries([1, 2, 3000])
    const wire = encodeBucketEntries(buckets)
    expect(decodeBucketEntries(wire)).toEqual(buckets)
    expect(errorCode(() => decodeBucketEntries(wire.subarray(0, wire.length - 3)))).toBe('CLUSTER_CORRUPT_MERKLE')
  })
})

describe('diffMerkle', () => {
  it('costs one hash for equal trees', async () => {
    const a = MerkleTree.build(Array.from({ length: 1000 }, (_, i) => entry(i)))
    const b = MerkleTree.build(Array.from({ length: 1000 }, (_, i) => entry(999 - i)))
    const diff = await diffMerkle(a, b)
    expect(diff).toEqual({ differences: [], buckets: [], hashesExchanged: 1, entriesExchanged: 0, bytesExchanged: 20, rounds: 1 })
  })

  it('finds exactly the differing keys in both directions', async () => {
    const a = MerkleTree.build(Array.from({ length: 5000 }, (_, i) => entry(i)))
    const b = MerkleTree.build(Array.from({ length: 5000 }, (_, i) => entry(i)))
    b.update(key(10), valueHash('b-side'))
    b.remove(key(20))
    b.update(key(9000), valueHash('only-b'))
    a.update(key(9001), valueHash('only-a'))
    const diff = await diffMerkle(a, overTheWire(b))
    const seen = diff.differences.map(d => [d.key.toString(), d.local?.toString('hex'), d.remote?.toString('hex')]).sort()
    expect(seen).toEqual([
      [key(10).toString(), valueHash('value-10').toString('hex'), valueHash('b-side').toString('hex')],
      [key(20).toString(), valueHash('value-20').toString('hex'), undefined],
      [key(9000).toString(), undefined, valueHash('only-b').toString('hex')],
      [key(9001).toString(), valueHash('only-a').toString('hex'), undefined]
    ].sort())
    expect(diff.rounds).toBe(5)
    // After each side takes the other's differing keys (a plain "remote wins" here) the trees agree.
    for (const d of diff.differences) {
      if (d.remote !== undefined) a.update(d.key, d.remote)
      else b.update(d.key, d.local!)
    }
    b.remove(key(20))
    a.remove(key(20))
    expect((await diffMerkle(a, b)).differences).toEqual([])
  })

  it('refuses to compare trees of different shapes', async () => {
    const a = new MerkleTree()
    const b = new MerkleTree({ fanout: 16, depth: 2 })
    await expect(diffMerkle(a, b)).rejects.toMatchObject({ code: 'CLUSTER_MERKLE_SHAPE_MISMATCH' })
  })

  it('exchanges a small fraction of the data for 100 differing keys out of 100,000', async () => {
    const N = 100_000
    // Value hashes stand in for digests of sibling sets; any distinct 20 bytes do.
    const base = Array.from({ length: N }, (_, i) => {
      const h = Buffer.alloc(20)
      h.writeUInt32BE(i, 16)
      return { key: key(i), valueHash: h }
    })
    const rng = seededRandom(99)
    const picked = new Set<number>()
    while (picked.size < 100) picked.add(Math.floor(rng() * N))
    const [changed, missing, extra] = [[...picked].slice(0, 40), [...picked].slice(40, 70), [...picked].slice(70)]
    for (const shape of [DEFAULT_MERKLE_SHAPE, { fanout: 16, depth: 4 }] as MerkleShape[]) {
      const local = MerkleTree.build(base, shape)
      const remote = local.clone()
      for (const i of changed) remote.update(key(i), valueHash(`remote-${i}`))
      for (const i of missing) remote.remove(key(i))
      for (const i of extra) local.remove(key(i))
      const peer = overTheWire(remote)
      const diff = await diffMerkle(local, peer)
      expect(diff.differences.length).toBe(100)
      expect(new Set(diff.differences.map(d => d.key.toString()))).toEqual(new Set([...picked].map(i => key(i).toString())))
      // What sending the whole key list with value hashes would cost: the naive alternative.
      const fullBytes = base.reduce((sum, e) => sum + e.key.length + e.valueHash.length, 0)
      const fraction = peer.bytes / fullBytes
      expect(diff.entriesExchanged).toBeLessThan(N / 20)
      expect(fraction).toBeLessThan(0.05)
    }
  })
})
