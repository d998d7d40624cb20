import { readFileSync } from 'node:fs'

// `node dist/tools/src/bench/profile-summary.js FILE.cpuprofile [TOP]`: where a V8 CPU profile's time
// went, as self time per function and per source area (our gateway folders, the engine, node's
// own HTTP, crypto, GC...), so a profile can be read without a browser.

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

process.stdout.on('error', () => process.exit(0)) // a closed pipe (`| head`) ends the listing
const args = process.argv.slice(2)
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
