import { DEFAULT_CONFIG } from '../../../gateway/src/node/config.js'
import { partitionOf } from '../../../gateway/src/ring/partition.js'
import { Ring, type RingMember } from '../../../gateway/src/ring/ring.js'
import { ownershipMoves } from '../../../gateway/src/ring/ring-diff.js'
import { textTable } from '../cli-kit/text-table.js'

// `npm run bench:ring`: how evenly the ring spreads partitions and replicas, and how much a join
// moves, for equal nodes at Q = 64 and at the default Q. Deterministic (no clock, no randomness):
// the figures change only when the ring's placement does. test/gateway/ring/ holds the bounds the
// figures must stay within.

/** Partition counts compared: a small ring, and the default a cluster gets. */
const PARTITION_COUNTS = [64, DEFAULT_CONFIG.partitions]
/** Cluster sizes whose balance is checked: the range the placement is designed for. */
const SIZES = { from: 3, to: 64 }
/** Joins shown one by one. */
const JOINS = [3, 4, 8, 16, 32, 63]
/** Hashed keys the key-level figures count (partitions move whole, keys show what data moves). */
const KEY_COUNT = 50_000

const nodes = (count: number): RingMember[] =>
  Array.from({ length: count }, (_, i) => ({ id: `node${String(i + 1).padStart(2, '0')}`, weight: 1 }))

/** Rings of 1..max equal nodes, each one claim step (a join) after the previous: how a cluster grows. */
function growth (q: number, max: number): Ring[] {
  const rings = [Ring.create(nodes(1), { partitionCount: q })]
  while (rings.length < max) rings.push(rings[rings.length - 1]!.rebalance(nodes(rings.length + 1)))
  return rings
}

/** The largest share over the mean share. */
function imbalance (ring: Ring, size: number): number {
  return Math.max(...ring.shares().values()) / (ring.partitionCount / size)
}

/** The most replicas (n = 3) any node holds, over the mean. */
function replicaImbalance (ring: Ring, size: number): number {
  const load = new Map<string, number>()
  for (let p = 0; p < ring.partitionCount; p++) for (const node of ring.preferenceList(p, 3)) load.set(node, (load.get(node) ?? 0) + 1)
  return Math.max(...load.values()) / (3 * ring.partitionCount / size)
}

const fixed = (x: number): string => x.toFixed(3)
const percent = (x: number): string => `${(x * 100).toFixed(1)}%`
const print = (title: string, lines: string[]): void => { process.stdout.write(`${title}\n${lines.join('\n')}\n\n`) }

const balance: string[][] = []
const joins: string[][] = []
for (const q of PARTITION_COUNTS) {
  const grown = growth(q, SIZES.to)
  let scratch = 0
  let joined = 0
  let replicas = 0
  const impossible: number[] = []
  for (let size = SIZES.from; size <= SIZES.to; size++) {
    scratch = Math.max(scratch, imbalance(Ring.create(nodes(size), { partitionCount: q }), size))
    joined = Math.max(joined, imbalance(grown[size - 1]!, size))
    replicas = Math.max(replicas, replicaImbalance(grown[size - 1]!, size))
    if (Math.ceil(q / size) / (q / size) > 1.15) impossible.push(size)
  }
  balance.push([String(q), fixed(scratch), fixed(joined), fixed(replicas), impossible.length === 0 ? 'none' : `${impossible.length} sizes`])
  for (const size of JOINS) {
    const after = grown[size - 1]!.rebalance([...nodes(size), { id: 'joiner', weight: 1 }])
    const moved = ownershipMoves(grown[size - 1]!, after).length / q
    joins.push([String(q), `${size} -> ${size + 1}`, percent(moved), percent(1 / (size + 1))])
  }
}
print(`ring balance, equal nodes, ${SIZES.from}..${SIZES.to} of them (worst case; 1.000 is perfect):`, textTable([
  { header: 'Q', align: 'right' }, { header: 'max/mean share (from scratch)', align: 'right' },
  { header: 'max/mean share (grown by joins)', align: 'right' }, { header: 'max/mean replicas, n=3', align: 'right' },
  { header: 'sizes where 15% is impossible' }
], balance))
print('partitions one join moves (all of them to the new node):', textTable([
  { header: 'Q', align: 'right' }, { header: 'nodes' }, { header: 'moved', align: 'right' }, { header: '1/(n+1)', align: 'right' }
], joins))

const q = DEFAULT_CONFIG.partitions
const keyPartitions = Array.from({ length: KEY_COUNT }, (_, i) => partitionOf(`user:${i}:profile`, q))
const keyShare = (changed: (p: number) => boolean): string => percent(keyPartitions.filter(changed).length / KEY_COUNT)
const keys: string[][] = []
for (const size of JOINS.filter((s) => s <= 32)) {
  const before = Ring.create(nodes(size), { partitionCount: q })
  const members = [...nodes(size), { id: 'joiner', weight: 1 }]
  const after = before.rebalance(members)
  const scratch = Ring.create(members, { partitionCount: q })
  const gainsReplica = (p: number): boolean => after.preferenceList(p, 3).some((node) => !before.preferenceList(p, 3).includes(node))
  keys.push([`${size} -> ${size + 1}`, keyShare((p) => before.ownerOf(p) !== after.ownerOf(p)), percent(1 / (size + 1)),
    keyShare(gainsReplica), keyShare((p) => before.ownerOf(p) !== scratch.ownerOf(p))])
}
print(`keys one join moves, ${KEY_COUNT} hashed keys, Q=${q}:`, textTable([
  { header: 'nodes' }, { header: 'owner moves', align: 'right' }, { header: '1/(n+1)', align: 'right' },
  { header: 'new replica (n=3)', align: 'right' }, { header: 'rebuilt from scratch', align: 'right' }
], keys))
