import { EventEmitter } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import { NodeMetrics } from '../../../gateway/src/metrics/node-metrics.js'
import { observeRequests } from '../../../gateway/src/http/request-observer.js'
import { createLogger } from '../../../gateway/src/node/logger.js'

// What the metrics add to one request, measured apart from everything else: the node's request
// listener wrapped by the request observer (a 'close' listener, two clock reads, a counter increment
// and a histogram observation) against the bare listener, on stand-ins for node's request and response
// (an EventEmitter answering 'close'), plus the read path's sibling observation. In-process and
// CPU-bound, so a shared machine's noise, which swamps a few percent of HTTP throughput, barely
// touches it. The figure is comparable with the CPU time per request the HTTP phases measure.

/** Requests per timed batch, and batches (the median is reported). */
const BATCH = 200_000
const BATCHES = 7

function fakeRequest (): IncomingMessage {
  return { url: '/v1/kv/hot-1', method: 'GET', headers: {} } as unknown as IncomingMessage
}

function fakeResponse (): ServerResponse {
  const res = new EventEmitter() as EventEmitter & { statusCode: number, writableFinished: boolean }
  res.statusCode = 200
  res.writableFinished = true
  return res as unknown as ServerResponse
}

/** Nanoseconds one request costs through `listener`, median of BATCHES batches. */
function perRequestNs (listener: (req: IncomingMessage, res: ServerResponse) => void): number {
  const runs: number[] = []
  for (let b = 0; b < BATCHES; b++) {
    const started = performance.now()
    for (let i = 0; i < BATCH; i++) {
      const res = fakeResponse()
      listener(fakeRequest(), res)
      res.emit('close')
    }
    runs.push((performance.now() - started) * 1e6 / BATCH)
  }
  runs.sort((a, b) => a - b)
  return runs[Math.floor(runs.length / 2)]!
}

/** The metrics' own cost per request, in nanoseconds (observed minus bare listener). */
export function metricsCostNs (): { bareNs: number, observedNs: number, costNs: number } {
  const metrics = new NodeMetrics('bench')
  const logger = createLogger('bench', 'silent')
  const bare = (_req: IncomingMessage, _res: ServerResponse): void => {}
  // The kv route's sibling observation happens inside the listener on a real node.
  const reading = (_req: IncomingMessage, _res: ServerResponse): void => { metrics.siblingsRead(1) }
  const observed = observeRequests(reading, { logger, metrics, accessLog: false, accessLogKeys: 'hash' })
  perRequestNs(bare) // warm-up (JIT)
  perRequestNs(observed)
  const bareNs = perRequestNs(bare)
  const observedNs = perRequestNs(observed)
  return { bareNs, observedNs, costNs: observedNs - bareNs }
}
