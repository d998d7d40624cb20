import type { Metric, MetricValueWithName, Registry } from 'prom-client'

/**
 * Counts and a histogram per label value, kept in plain arrays and numbers so that recording one
 * observation is a few additions (no label object, no hashing, no validation): the request path
 * records here. prom-client sees them as two ordinary families, a counter `<name>_total`-style
 * family and a histogram, built only when scraped.
 */
export class FastHistogram {
  readonly #buckets: readonly number[]
  readonly #series = new Map<string, { counts: Float64Array, sum: number, count: number, labels: Record<string, string> }>()

  /** Register the histogram `name` (label `labelName` if any, and `le`) in `registry`. */
  constructor (registry: Registry, readonly name: string, readonly help: string, readonly labelName: string | undefined, buckets: readonly number[]) {
    this.#buckets = buckets
    registerReadOnScrape(registry, name, help, 'histogram', () => this.#values(), () => { this.#series.clear() })
  }

  /**
   * Record `value` for the series `key` (from a small fixed set): the value of the label `labelName`,
   * or, where the family has several labels, a string made of them by the caller, with `labels`
   * making them the first time.
   */
  observe (key: string, value: number, labels?: () => Record<string, string>): void {
    let s = this.#series.get(key)
    if (s === undefined) {
      s = { counts: new Float64Array(this.#buckets.length), sum: 0, count: 0, labels: labels?.() ?? (this.labelName === undefined ? {} : { [this.labelName]: key }) }
      this.#series.set(key, s)
    }
    const buckets = this.#buckets
    for (let i = 0; i < buckets.length; i++) {
      if (value <= buckets[i]!) { s.counts[i]!++; break }
    }
    s.sum += value
    s.count++
  }

  #values (): Array<MetricValueWithName<string>> {
    const values: Array<MetricValueWithName<string>> = []
    for (const s of this.#series.values()) {
      let cumulative = 0
      for (let i = 0; i < this.#buckets.length; i++) {
        cumulative += s.counts[i]!
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: this.#buckets[i]! }, value: cumulative })
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: s.count })
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum })
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count })
    }
    return values
  }
}

/** A counter per label set, kept as plain numbers; prom-client reads it when scraped. */
export class FastCounter {
  readonly #series = new Map<string, { labels: Record<string, string>, value: number }>()

  constructor (registry: Registry, readonly name: string, readonly help: string) {
    registerReadOnScrape(registry, name, help, 'counter',
      () => [...this.#series.values()].map(({ labels, value }) => ({ labels, value })), () => { this.#series.clear() })
  }

  /** Add one to the series `key` (a string made of the labels, by the caller), made from `labels` the first time. */
  inc (key: string, labels: () => Record<string, string>): void {
    const s = this.#series.get(key)
    if (s !== undefined) { s.value++; return }
    this.#series.set(key, { labels: labels(), value: 1 })
  }
}

/** Register a family prom-client reads only when scraped: `values` builds its samples then. */
function registerReadOnScrape (registry: Registry, name: string, help: string, type: 'counter' | 'histogram', values: () => unknown, reset: () => void): void {
  const metric = {
    name,
    help,
    type,
    aggregator: 'sum',
    async get (): Promise<unknown> { return { name, help, type, aggregator: 'sum', values: values() } },
    reset
  }
  registry.registerMetric(metric as unknown as Metric)
}
