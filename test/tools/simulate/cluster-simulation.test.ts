import { describe, expect, it } from 'vitest'
import { recommendedPartitionCount } from '../../../gateway/src/ring/partition.js'
import { simulate } from '../../../tools/src/simulate/cluster-simulation.js'

// The simulation of `npm run simulate` at a reduced size (the full 100- and 1,000-node runs are in
// docs/benchmarks.md): the production ring, claimant, gossip merge and phi detector, 200 nodes in 3 zones.

describe('cluster simulation', () => {
  it('200 nodes in 3 zones: balanced nodes and zones, every preference list in 3 zones, fast gossip, a join moving only its share', () => {
    const nodes = 200
    const result = simulate({ nodes, zones: 3, partitions: recommendedPartitionCount(nodes + 1), replicas: 3, seed: 7 })
    process.stdout.write(`${JSON.stringify(result)}\n`)
    expect(result.partitions).toBe(2048)
    expect(result.balance.maxOverMean).toBeLessThanOrEqual(1.15)
    expect(result.balance.zoneMaxOverMean).toBeLessThanOrEqual(1.05)
    expect(result.placement.distinctZonesFraction).toBe(1)
    expect(result.gossip.roundsToConverge).toBeLessThanOrEqual(20)
    expect(result.gossip.ringRounds).toBeLessThanOrEqual(20)
    expect(result.join.movedFraction).toBeLessThanOrEqual(1.5 / (nodes + 1))
    expect(result.leave.movedFraction).toBeLessThanOrEqual(1.5 / nodes)
    // The phi detector (threshold 8, 1 s heartbeats, 3 s acceptable pause) suspects a dead node within seconds, everywhere, and no live one.
    expect(result.failure.firstDetectionMs).toBeGreaterThan(0)
    expect(result.failure.lastDetectionMs).toBeLessThanOrEqual(15_000)
    expect(result.failure.falseSuspicions).toBe(0)
  }, 120_000)

  it('is deterministic: the same seed gives the same figures', () => {
    const options = { nodes: 40, zones: 2, partitions: 512, replicas: 3, seed: 3 }
    expect(simulate(options)).toEqual(simulate(options))
  }, 60_000)

  it('recommends eight partitions per node, as a power of two within bounds', () => {
    expect(recommendedPartitionCount(3)).toBe(64)
    expect(recommendedPartitionCount(100)).toBe(1024)
    expect(recommendedPartitionCount(1001)).toBe(8192)
    expect(recommendedPartitionCount(100_000)).toBe(16384)
  })
})
