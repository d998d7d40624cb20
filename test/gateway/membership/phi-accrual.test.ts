import { describe, expect, it } from 'vitest'
import { GatewayError } from '../../../gateway/src/error/gateway-error.js'
import { PhiAccrualDetector } from '../../../gateway/src/membership/phi-accrual.js'
import { seededRandom } from '../../support/random.mjs'

/** Step of the synthetic clock at which suspicion is sampled between heartbeats. */
const SAMPLE_MS = 100

interface Run { maxPhi: number, suspicions: number, end: number }

/** Feeds `count` heartbeats spaced by interval(); samples phi every SAMPLE_MS in between, counting falls into suspicion. */
function run (detector: PhiAccrualDetector, start: number, count: number, interval: () => number): Run {
  let t = start
  let maxPhi = 0
  let suspicions = 0
  let suspected = false
  detector.heartbeat(t)
  for (let i = 0; i < count; i++) {
    const next = t + interval()
    for (let s = t + SAMPLE_MS; s < next; s += SAMPLE_MS) {
      const phi = detector.phi(s)
      maxPhi = Math.max(maxPhi, phi)
      const now = phi >= detector.threshold
      if (now && !suspected) suspicions++
      suspected = now
    }
    maxPhi = Math.max(maxPhi, detector.phi(next))
    t = next
    detector.heartbeat(t)
    suspected = false
  }
  return { maxPhi, suspicions, end: t }
}

/** Milliseconds after the last heartbeat at which the detector first suspects (sampled every 10 ms). */
function detectionDelay (detector: PhiAccrualDetector, last: number): number {
  for (let d = 0; d <= 120_000; d += 10) {
    if (!detector.isAvailable(last + d)) return d
  }
  throw new Error('never suspected within 120 s')
}

describe('PhiAccrualDetector', () => {
  it('keeps a regular, jittery 1 s heartbeat under the threshold and suspects it within seconds once it stops', () => {
    const rng = seededRandom(7)
    const detector = new PhiAccrualDetector()
    // One hour of heartbeats every 1 s +- 300 ms.
    const { maxPhi, suspicions, end } = run(detector, 0, 3600, () => 700 + rng() * 600)
    expect(suspicions).toBe(0)
    expect(maxPhi).toBeLessThan(1)
    const delay = detectionDelay(detector, end)
    expect(delay).toBeGreaterThan(1000)
    expect(delay).toBeLessThanOrEqual(6000)
  })

  it('does not flap on a slow-but-alive node whose heartbeats come every 2-3 s', () => {
    const rng = seededRandom(11)
    const detector = new PhiAccrualDetector()
    const { suspicions, end } = run(detector, 5000, 1200, () => 2000 + rng() * 1000)
    expect(suspicions).toBe(0)
    // A stopped slow node is still suspected, just later: its learned mean is 2.5 s.
    const delay = detectionDelay(detector, end)
    expect(delay).toBeGreaterThan(3000)
    expect(delay).toBeLessThan(10_000)
  })

  it('does not flap when a node turns from 1 s to 2-3 s heartbeats', () => {
    const rng = seededRandom(12)
    const detector = new PhiAccrualDetector()
    const fast = run(detector, 0, 300, () => 900 + rng() * 200)
    const slow = run(detector, fast.end, 600, () => 2000 + rng() * 1000)
    expect(fast.suspicions + slow.suspicions).toBe(0)
    expect(detector.meanIntervalMs).toBeGreaterThan(2000)
  })

  it('grows phi while silent, suspects, and recovers on the next heartbeat', () => {
    const detector = new PhiAccrualDetector({ threshold: 5 })
    expect(detector.phi(123)).toBe(0)
    expect(detector.isAvailable(10_000_000)).toBe(true)
    const { end } = run(detector, 0, 100, () => 1000)
    let previous = -1
    for (let d = 0; d <= 20_000; d += 250) {
      const phi = detector.phi(end + d)
      expect(phi).toBeGreaterThanOrEqual(previous)
      previous = phi
    }
    expect(previous).toBe(Infinity)
    expect(detector.isAvailable(end + 20_000)).toBe(false)
    detector.heartbeat(end + 20_000)
    expect(detector.isAvailable(end + 20_500)).toBe(true)
    // The 20 s outage was not learned as an interval: the mean is still 1 s.
    expect(detector.meanIntervalMs).toBe(1000)
    expect(detector.lastHeartbeatMs).toBe(end + 20_000)
  })

  it('a smaller threshold suspects sooner', () => {
    const delays = [3, 8, 12].map(threshold => {
      const detector = new PhiAccrualDetector({ threshold })
      const { end } = run(detector, 0, 200, () => 1000)
      return detectionDelay(detector, end)
    })
    expect(delays[0]).toBeLessThan(delays[1]!)
    expect(delays[1]).toBeLessThan(delays[2]!)
  })

  it('forgets old intervals beyond its window', () => {
    const detector = new PhiAccrualDetector({ maxSampleSize: 10, acceptablePauseMs: 0 })
    run(detector, 0, 50, () => 500)
    expect(detector.meanIntervalMs).toBe(500)
    run(detector, 100_000, 10, () => 700)
    expect(detector.meanIntervalMs).toBe(700)
  })

  it('rejects nonsensical options', () => {
    for (const options of [{ threshold: 0 }, { maxSampleSize: 1 }, { minStdDevMs: -1 }, { acceptablePauseMs: Number.NaN }, { firstHeartbeatEstimateMs: 0 }]) {
      expect(() => new PhiAccrualDetector(options)).toThrow(GatewayError)
    }
    expect(new PhiAccrualDetector({ acceptablePauseMs: 0 }).threshold).toBe(8)
  })
})
