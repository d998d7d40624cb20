import { parseArgs } from 'node:util'
import { performance } from 'node:perf_hooks'
import { recommendedPartitionCount } from '../../../gateway/src/ring/partition.js'
import { Ring } from '../../../gateway/src/ring/ring.js'
import { simulate, type SimulationResult } from '../simulate/cluster-simulation.js'
import { textTable } from '../cli-kit/text-table.js'

// `npm run simulate -- --nodes N --zones Z [--partitions Q] [--replicas n] [--seed S] [--json]`:
// the production ring, claimant, gossip merge and failure detector at N nodes under a simulated
// clock and network (tools/src/simulate/cluster-simulation.ts). Deterministic for a seed. Prints a
// table of the figures, the targets beside them, a table of Q choices for this N, and one JSON line
// (only the JSON line with --json).

const USAGE = 'usage: npm run simulate -- --nodes N --zones Z [--partitions Q] [--replicas n] [--seed S] [--json]'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '100' },
    zones: { type: 'string', default: '3' },
    partitions: { type: 'string' },
    replicas: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false }
  }
})

function count (name: string, raw: string | undefined, min: number): number {
  const v = Number(raw)
  if (!Number.isSafeInteger(v) || v < min) {
    process.stderr.write(`simulate: --${name} ${String(raw)} must be an integer >= ${min}\n${USAGE}\n`)
    process.exit(2)
  }
  return v
}

const nodes = count('nodes', values.nodes, 2)
const zones = count('zones', values.zones, 1)
const partitions = values.partitions === undefined ? recommendedPartitionCount(nodes + 1) : count('partitions', values.partitions, 1)
const replicas = count('replicas', values.replicas, 1)
const seed = count('seed', values.seed, 0)

const started = performance.now()
const result: SimulationResult = simulate({ nodes, zones, partitions, replicas, seed })
const seconds = (performance.now() - started) / 1000

const f3 = (x: number): string => x.toFixed(3)
const pct = (x: number): string => `${(x * 100).toFixed(2)}%`
const rows: string[][] = [
  ['node share, max / mean', f3(result.balance.maxOverMean), '<= 1.15'],
  ['zone share, max / mean (by weight)', f3(result.balance.zoneMaxOverMean), '<= 1.05'],
  [`replicas held (n=${replicas}), max / mean`, f3(result.balance.replicaMaxOverMean), ''],
  ['preference lists in distinct zones', pct(result.placement.distinctZonesFraction), '100%'],
  ['gossip rounds until all know a joiner', String(result.gossip.roundsToConverge), '<= 20'],
  ['gossip messages meanwhile', String(result.gossip.messages), ''],
  ['gossip rounds until all hold the new ring', String(result.gossip.ringRounds), ''],
  ['failure detection, first node (ms)', String(Math.round(result.failure.firstDetectionMs)), ''],
  ['failure detection, every node (ms)', String(Math.round(result.failure.lastDetectionMs)), ''],
  ['rounds until every node suspects the dead one', String(result.failure.roundsToDetect), ''],
  ['gossip messages meanwhile', String(result.failure.messages), ''],
  ['false suspicions of live nodes', String(result.failure.falseSuspicions), '0'],
  ['partitions one join moves', pct(result.join.movedFraction), `<= ${pct(1.5 / (nodes + 1))} (1.5/(N+1))`],
  ['partitions one leave moves', pct(result.leave.movedFraction), `${pct(1 / nodes)} is 1/N`]
]

/** For this N: what each Q gives (node balance, the fewest partitions a node owns, the size of the gossiped ring). */
function partitionChoices (): string[][] {
  const members = Array.from({ length: nodes }, (_, i) => ({ id: `n${String(i).padStart(5, '0')}`, weight: 1, zone: `z${i % zones}` }))
  const out: string[][] = []
  for (let q = 512; q <= 16384; q *= 2) {
    const ring = Ring.create(members, { partitionCount: q })
    const shares = [...ring.shares().values()]
    out.push([String(q), f3(Math.max(...shares) / (q / nodes)), String(Math.min(...shares)), `${(JSON.stringify(ring.toJSON()).length / 1024).toFixed(0)} KB`])
  }
  return out
}

if (values.json !== true) {
  process.stdout.write(`simulation: ${nodes} nodes in ${zones} zones, Q=${partitions}, n=${replicas}, seed ${seed} (${seconds.toFixed(1)} s)\n`)
  process.stdout.write(textTable([{ header: 'figure' }, { header: 'measured', align: 'right' }, { header: 'target' }], rows).join('\n') + '\n\n')
  process.stdout.write(`picking Q for ${nodes} nodes in ${zones} zones:\n`)
  process.stdout.write(textTable([{ header: 'Q', align: 'right' }, { header: 'node max/mean', align: 'right' }, { header: 'fewest partitions', align: 'right' },
    { header: 'ring JSON', align: 'right' }], partitionChoices()).join('\n') + '\n\n')
}
process.stdout.write(JSON.stringify(result) + '\n')
