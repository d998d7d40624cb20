import { readFileSync } from 'node:fs'

// `node dist/tools/src/bench/profile-summary.js FILE.cpuprofile [TOP]`: where a V8 CPU profile's time
// went, as self time per function and per source area (our gateway folders, the engine, node's
// own HTTP, crypto, GC...), so a profile can be read without a browser.
//
// `... profile-summary.js --requests N [--window FROM-TO] [--cpu-us C] FILES...`: the profiles of every
// process that served N requests (a cluster's nodes, main threads and engine workers alike) summed,
// counting only the samples taken in the window (µs on the monotonic clock V8 times profiles by;
// bench:cluster prints each profiled phase's window, request count and CPU), as CPU per request by
// part of the request's path (see PARTS). Samples are counted, not their time deltas: a delta also
// holds the time the thread waited for a core on a machine shared with other work. `--cpu-us C`
// (the CPU µs per request measured from /proc) scales the parts to sum to C.

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

/**
 * The parts of a request's path, as [name, test of one stack frame]. A sample counts toward the part
 * of the innermost frame of its stack that passes one of the tests, tried in this order; so node's
 * socket writes under the frame code count as frames, SHA-1 under the version hash as hashing.
 */
const PARTS: ReadonlyArray<readonly [string, (fn: string, url: string) => boolean]> = [
  ['garbage collection', (fn) => fn === '(garbage collector)'],
  ['internode frames (codec, MAC, channel, server)', (_, url) => /\/internode\/frame-/.test(url)],
  ['internode client and routes', (_, url) => /\/internode\//.test(url)],
  ['hashing: key SHA-1, version hash', (_, url) => /\/(anti-entropy\/version-hash|replica\/storage-keys|ring\/partition)\./.test(url)],
  ['object codec', (_, url) => /\/(replica\/object-codec|encoding\/bytes)\./.test(url)],
  ['causal context tokens (HMAC)', (_, url) => /\/version\/causal-context\./.test(url)],
  ['stamping and merging (version vectors)', (_, url) => /\/(version\/|replica\/(replica-store|stored-object|replica-merge|dot-counter|key-lock))/.test(url)],
  ['engine (memtable, commit log, fsync, reads, flush, compaction)', (_, url) => /\/engine\/(dist|src)\/|node_modules\/(abstract-level|lsm-level)\/|\/replica\/node-storage\./.test(url)],
  ['anti-entropy (index, Merkle trees, exchanges)', (_, url) => /\/anti-entropy\//.test(url)],
  ['gossip and membership', (_, url) => /\/membership\//.test(url)],
  ['coordination and placement', (_, url) => /\/(coordination|ring|handoff)\//.test(url)],
  ['parameter validation (contract, ajv)', (_, url) => /\/http\/(request-parameters|contract)\.|node_modules\/ajv/.test(url)],
  ['HTTP front (node:http, body, routes, problems)', (_, url) => /\/http\/|node:_http|node:http/.test(url)],
  ['metrics and logs', (_, url) => /\/metrics\/|node_modules\/(prom-client|pino)/.test(url)],
  ['internode HTTP (undici: gossip, anti-entropy)', (_, url) => /node_modules\/undici/.test(url)]
]

process.stdout.on('error', () => process.exit(0)) // a closed pipe (`| head`) ends the listing
const args = process.argv.slice(2)
const option = (name: string): number | undefined => { const i = args.indexOf(name); return i === -1 ? undefined : Number(args[i + 1]) }
const requests = option('--requests')
if (requests !== undefined) {
  const window = args[args.indexOf('--window') + 1]?.split('-').map(Number)
  perRequest(args.filter((a) => a.endsWith('.cpuprofile')), requests, args.includes('--window') ? window as [number, number] : undefined, option('--cpu-us'))
  process.exit(0)
}
// A node writes two profiles (its main thread and the engine worker): a glob passes both, so TOP is the one number.
const [file, ...others] = args.filter((a) => !/^[0-9]+$/.test(a))
const topArg = args.find((a) => /^[0-9]+$/.test(a))
if (file === undefined) {
  process.stderr.write('usage: profile-summary FILE.cpuprofile [TOP]\n')
  process.exit(2)
}
if (others.length > 0) process.stderr.write(`summing ${file} only (one profile at a time; also given: ${others.join(' ')})\n`)
const top = Number(topArg ?? 30)
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const selfUs = new Map<number, number>()
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))

/** The area a frame belongs to: a folder of ours, a node: module, or the VM's own pseudo-frames. */
function area (url: string, name: string): string {
  if (url === '') return name.startsWith('(') ? name : '(native)'
  const ours = /\/(gateway|engine|tools)\/src\/([^/]+)\//.exec(url) ?? /\/(gateway|engine|tools)\/src\/([^/]+)\.js$/.exec(url)
  if (ours !== null) return `${ours[1]!}/${ours[2]!}`
  if (url.startsWith('node:')) return url.replace(/^node:internal\//, 'node:').split('/').slice(0, 2).join('/')
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  return pkg === null ? url : pkg[1]!
}

const total = [...selfUs.values()].reduce((a, b) => a + b, 0)
const fns = new Map<string, number>()
const areas = new Map<string, number>()
for (const [id, us] of selfUs) {
  const node = byId.get(id)!
  const { functionName, url, lineNumber } = node.callFrame
  const name = `${functionName === '' ? '(anonymous)' : functionName} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`
  fns.set(name, (fns.get(name) ?? 0) + us)
  const a = area(url, functionName)
  areas.set(a, (areas.get(a) ?? 0) + us)
}
const pct = (us: number) => `${(100 * us / total).toFixed(1)}%`
const idle = areas.get('(idle)') ?? 0
process.stdout.write(`${file}: ${(total / 1e6).toFixed(1)} s sampled, ${pct(idle)} idle\n\nby area (self time)\n`)
for (const [a, us] of [...areas].sort((x, y) => y[1] - x[1]).slice(0, top)) process.stdout.write(`  ${pct(us).padStart(6)}  ${a}\n`)
process.stdout.write('\nby function (self time)\n')
for (const [f, us] of [...fns].sort((x, y) => y[1] - x[1]).slice(0, top)) process.stdout.write(`  ${pct(us).padStart(6)}  ${f}\n`)

/** CPU µs per request by part (PARTS), over every profile given, counting the samples taken in `window`. */
function perRequest (files: readonly string[], count: number, window: readonly [number, number] | undefined, cpuUs: number | undefined): void {
  const parts = new Map<string, number>()
  let busy = 0
  for (const name of files) {
    const p = JSON.parse(readFileSync(name, 'utf8')) as Profile
    const nodes = new Map(p.nodes.map((n) => [n.id, n]))
    const parentOf = new Map<number, number>()
    for (const n of p.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id)
    const partOf = new Map<number, string>()
    const classify = (id: number): string => {
      let part = partOf.get(id)
      if (part !== undefined) return part
      const { functionName, url } = nodes.get(id)!.callFrame
      part = PARTS.find(([, test]) => test(functionName, url))?.[0] ??
        (parentOf.has(id) ? classify(parentOf.get(id)!) : functionName === '(program)' ? 'VM (program)' : 'other (event loop, streams, timers, microtasks)')
      partOf.set(id, part)
      return part
    }
    // The sampling interval: the typical delta (waits for a core make some much longer).
    const interval = [...p.timeDeltas].sort((x, y) => x - y)[p.timeDeltas.length >> 1] ?? 0
    let at = p.startTime
    p.samples.forEach((id, i) => {
      at += p.timeDeltas[i] ?? 0
      const us = interval
      if ((window !== undefined && (at < window[0] || at > window[1])) || nodes.get(id)!.callFrame.functionName === '(idle)') return
      busy += us
      const part = classify(id)
      parts.set(part, (parts.get(part) ?? 0) + us)
    })
  }
  const scale = cpuUs === undefined ? 1 : cpuUs * count / busy
  const per = (us: number): string => (us * scale / count).toFixed(0).padStart(6)
  process.stdout.write(`${files.length} profiles, ${count} requests${window === undefined ? '' : `, samples in ${window[0]}-${window[1]}`}: ${per(busy)} µs per request` +
    `${cpuUs === undefined ? ' sampled' : ` (the measured CPU; sampled ${(busy / count).toFixed(0)} µs)`}\n`)
  for (const [part, us] of [...parts].sort((x, y) => y[1] - x[1])) process.stdout.write(`  ${per(us)} µs  ${(100 * us / busy).toFixed(1).padStart(5)}%  ${part}\n`)
}
