import { collectDefaultMetrics, Counter, Gauge, Registry, type LabelValues } from 'prom-client'
import { FastCounter, FastHistogram } from './fast-histogram.js'

/** Latency buckets (seconds): a local read takes well under a millisecond, a slow quorum seconds. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** Siblings per read: 0 (not found), 1 (the usual), a few (concurrent writes), up to the sibling limit. */
export const SIBLING_BUCKETS = [0, 1, 2, 3, 5, 10, 25, 50, 100]

const QUORUM_PARAMETERS: readonly string[] = ['r', 'pr', 'w', 'dw', 'pw']

/**
 * The client operations a request is counted under: a fixed set, so the label never carries a key
 * or an arbitrary path (Prometheus keeps one series per label value).
 */
export type RequestOperation = 'get' | 'put' | 'delete' | 'health' | 'ready' | 'cluster' | 'ring' | 'engines' | 'metrics' | 'ui' | 'admin' | 'internode' | 'other'

/** A counter whose value is read from a monotonic source at scrape time (a total kept elsewhere). */
export interface ScrapedTotal { readonly name: string, readonly help: string, readonly labelNames?: readonly string[], read (): Iterable<[LabelValues<string>, number]> }

/** A gauge read at scrape time. */
export interface ScrapedGauge { readonly name: string, readonly help: string, readonly labelNames?: readonly string[], read (): Iterable<[LabelValues<string>, number]> }

/**
 * One node's metrics, in a registry of its own (several nodes may share a process in tests): the
 * counters and histograms the request path and the internode client feed (one increment or observe
 * each, with the label children cached so no label object is hashed per request), the process
 * metrics prom-client collects, and gauges and totals read from the node's parts at scrape time.
 */
export class NodeMetrics {
  readonly registry = new Registry()
  readonly #requests: FastCounter
  readonly #requestSeconds: FastHistogram
  readonly #quorumFailures: Counter<'parameter'>
  readonly #siblingRefusals: Counter
  readonly #siblingsPerRead: FastHistogram
  readonly #readRepairs: Counter
  readonly #internodeCalls: FastCounter
  readonly #internodeSeconds: FastHistogram

  constructor (nodeId: string) {
    const registers = [this.registry]
    this.registry.setDefaultLabels({ node: nodeId })
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 })
    // The two families every request feeds: plain additions per request, turned into series when scraped.
    this.#requests = new FastCounter(this.registry, 'levelring_http_requests_total', 'HTTP requests answered, by operation and status')
    this.#requestSeconds = new FastHistogram(this.registry, 'levelring_http_request_duration_seconds', 'Time from a request\'s arrival to the end of its answer, by operation', 'operation', LATENCY_BUCKETS)
    this.#quorumFailures = new Counter({ name: 'levelring_quorum_failures_total', help: 'Client requests answered 503 because a quorum parameter (r, pr, w, dw, pw) was not met', labelNames: ['parameter'], registers })
    // Every parameter's series exists from the start, so rate() sees the first failure.
    for (const parameter of QUORUM_PARAMETERS) this.#quorumFailures.inc({ parameter }, 0)
    this.#siblingRefusals = new Counter({ name: 'levelring_sibling_limit_refusals_total', help: 'Writes refused (409) because they would leave more siblings than the limit', registers })
    this.#siblingsPerRead = new FastHistogram(this.registry, 'levelring_read_siblings', 'Live siblings a client read answered (0: not found)', undefined, SIBLING_BUCKETS)
    this.#readRepairs = new Counter({ name: 'levelring_read_repairs_total', help: 'Replicas brought up to date by read repair after a read', registers })
    // Two internode calls per read and per write: plain additions too (prom-client hashes the labels of every observation, even a child's).
    this.#internodeCalls = new FastCounter(this.registry, 'levelring_internode_calls_total', 'Internode calls made, by peer, endpoint and outcome (ok, error: an answer that is an error, unreachable: no usable answer)')
    this.#internodeSeconds = new FastHistogram(this.registry, 'levelring_internode_call_duration_seconds', 'Internode call latency, by peer and endpoint', undefined, LATENCY_BUCKETS)
  }

  /** The Content-Type of the exposition. */
  get contentType (): string {
    return this.registry.contentType
  }

  /** A request answered `status` after `seconds`. */
  request (operation: RequestOperation, status: number | 'aborted', seconds: number): void {
    this.#requests.inc(operation + status, () => ({ operation, status: String(status) }))
    this.#requestSeconds.observe(operation, seconds)
  }

  /** A client request failed its quorum on `parameter`. */
  quorumFailed (parameter: string): void {
    // Only the five quorum parameters: anything else would be an unbounded label.
    this.#quorumFailures.inc({ parameter: QUORUM_PARAMETERS.includes(parameter) ? parameter : 'other' })
  }

  siblingLimitRefused (): void {
    this.#siblingRefusals.inc()
  }

  /** A client read answered `count` live siblings. */
  siblingsRead (count: number): void {
    this.#siblingsPerRead.observe('', count)
  }

  /** Read repair brought `replicas` replicas up to date. */
  readRepaired (replicas: number): void {
    if (replicas > 0) this.#readRepairs.inc(replicas)
  }

  /** One internode call to `peer` (a member id: bounded by the cluster's size). */
  internodeCall (peer: string, endpoint: string, seconds: number, outcome: 'ok' | 'error' | 'unreachable'): void {
    // Endpoint names and outcomes hold no space, so "peer endpoint outcome" names one series whatever the id.
    const key = `${peer} ${endpoint}`
    this.#internodeSeconds.observe(key, seconds, () => ({ peer, endpoint }))
    this.#internodeCalls.inc(`${key} ${outcome}`, () => ({ peer, endpoint, outcome }))
  }

  /** A counter whose total is kept by another part of the node and read at each scrape. */
  scrapedTotal (total: ScrapedTotal): void {
    const seen = new Map<string, number>()
    const counter: Counter<string> = new Counter({
      name: total.name,
      help: total.help,
      labelNames: total.labelNames ?? [],
      registers: [this.registry],
      collect () {
        for (const [labels, value] of total.read()) {
          // A counter only goes up: add what the source gained since the last scrape.
          const key = JSON.stringify(labels)
          const before = seen.get(key) ?? 0
          if (value > before) counter.inc(labels, value - before)
          else if (value < before) { counter.remove(labels); counter.inc(labels, value) }
          else counter.inc(labels, 0)
          seen.set(key, value)
        }
      }
    })
  }

  /** A gauge read from another part of the node at each scrape (its series are replaced each time). */
  scrapedGauge (gauge: ScrapedGauge): void {
    const g: Gauge<string> = new Gauge({
      name: gauge.name,
      help: gauge.help,
      labelNames: gauge.labelNames ?? [],
      registers: [this.registry],
      collect () {
        g.reset()
        for (const [labels, value] of gauge.read()) g.set(labels, value)
      }
    })
  }

  /** The exposition, in Prometheus text format. */
  async exposition (): Promise<string> {
    // prom-client spells NaN "Nan" (the event-loop lag mean between two scrapes with no sample in
    // between), which the text format does not allow: scrapers would refuse the whole exposition.
    return (await this.registry.metrics()).replace(/ Nan$/gm, ' NaN')
  }
}
