import { readFileSync } from 'node:fs'

// `node dist/tools/src/bench/heap-diff.js BEFORE AFTER [--retainers LABEL...]`: what grew between two V8
// heap snapshots of one process (bench:scale --heap-snapshots writes them empty and loaded), by object
// kind: bytes and object counts, largest growth first. A kind whose count grows by about the keys added
// is per-key state; `--retainers 'object:Buffer'` then names what holds those objects in AFTER (the
// kind of node and edge pointing at them), which is where to look in the code.

interface Snapshot {
  readonly snapshot: { readonly meta: { node_fields: string[], node_types: [string[]], edge_fields: string[], edge_types: [string[]] } }
  readonly nodes: number[]
  readonly edges: number[]
  readonly strings: string[]
}

/** Rows printed of each table. */
const ROWS = 30

function load (file: string): Snapshot {
  return JSON.parse(readFileSync(file, 'utf8')) as Snapshot
}

/** `type:name` of the node at offset o, strings folded into one kind (their text is data, not a kind). */
function labeller (s: Snapshot): (o: number) => string {
  const { node_fields: fields, node_types: [types] } = s.snapshot.meta
  const type = fields.indexOf('type')
  const name = fields.indexOf('name')
  return (o) => {
    const t = types[s.nodes[o + type]!]!
    const n = t.includes('string') ? '(string)' : s.strings[s.nodes[o + name]!]!.slice(0, 60)
    return `${t}:${n}`
  }
}

function kinds (s: Snapshot): { byKind: Map<string, { count: number, bytes: number }>, total: number } {
  const fields = s.snapshot.meta.node_fields
  const size = fields.indexOf('self_size')
  const label = labeller(s)
  const byKind = new Map<string, { count: number, bytes: number }>()
  let total = 0
  for (let o = 0; o < s.nodes.length; o += fields.length) {
    const k = label(o)
    const entry = byKind.get(k) ?? { count: 0, bytes: 0 }
    entry.count++
    entry.bytes += s.nodes[o + size]!
    total += s.nodes[o + size]!
    byKind.set(k, entry)
  }
  return { byKind, total }
}

/** For each node of a kind in `wanted`: the kind and edge type of what points at it (weak edges left out). */
function retainers (s: Snapshot, wanted: ReadonlySet<string>): Map<string, number> {
  const { node_fields: fields, edge_fields: edgeFields, edge_types: [edgeTypes] } = s.snapshot.meta
  const edgeCount = fields.indexOf('edge_count')
  const edgeType = edgeFields.indexOf('type')
  const toNode = edgeFields.indexOf('to_node')
  const label = labeller(s)
  const counts = new Map<string, number>()
  let e = 0
  for (let o = 0; o < s.nodes.length; o += fields.length) {
    const from = label(o)
    for (let k = 0; k < s.nodes[o + edgeCount]!; k++, e += edgeFields.length) {
      const to = label(s.edges[e + toNode]!)
      const kind = edgeTypes[s.edges[e + edgeType]!]!
      if (!wanted.has(to) || kind === 'weak') continue
      const key = `${to} <- ${from} (${kind})`
      counts.set(key, (counts.get(key) ?? 0) + 1)
    }
  }
  return counts
}

const args = process.argv.slice(2)
const split = args.indexOf('--retainers')
const [beforeFile, afterFile] = split === -1 ? args : args.slice(0, split)
if (beforeFile === undefined || afterFile === undefined) {
  process.stderr.write('usage: heap-diff.js BEFORE.heapsnapshot AFTER.heapsnapshot [--retainers KIND...]\n')
  process.exit(2)
}
const after = load(afterFile)
const a = kinds(load(beforeFile))
const b = kinds(after)
process.stdout.write(`heap: ${(a.total / 1024 ** 2).toFixed(1)} MiB -> ${(b.total / 1024 ** 2).toFixed(1)} MiB\n`)
const grown = [...b.byKind].map(([kind, e]) => ({ kind, bytes: e.bytes - (a.byKind.get(kind)?.bytes ?? 0), count: e.count - (a.byKind.get(kind)?.count ?? 0) }))
  .sort((x, y) => y.bytes - x.bytes).slice(0, ROWS)
console.table(grown.map((g) => ({ kind: g.kind, 'bytes grown': g.bytes, 'objects grown': g.count })))
if (split !== -1) {
  const rows = [...retainers(after, new Set(args.slice(split + 1)))].sort((x, y) => y[1] - x[1]).slice(0, ROWS)
  console.table(rows.map(([edge, count]) => ({ 'held by': edge, count })))
}
