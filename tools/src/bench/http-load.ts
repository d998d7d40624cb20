import autocannon from 'autocannon'

// Pieces the HTTP benchmarks share: the workload's value size, loading keys before a run, a run
// of autocannon reduced to the figures we report, and how figures are printed.

/** Value size of the issues' workloads. */
export const VALUE_BYTES = 10 * 1024

/** What one measured phase produced. */
export interface LoadFigures {
  readonly rps: number
  /** Requests answered in the phase. */
  readonly requests: number
  readonly p50: number
  readonly p99: number
  readonly p999: number
  readonly errors: number
  readonly non2xx: number
}

/** One autocannon request template: method, and a path per request. */
export interface LoadRequest {
  readonly method: 'GET' | 'PUT'
  readonly path: () => string
}

/**
 * Drive `addresses` (connections spread over them round-robin) for `seconds` with `connections`
 * connections, each cycling through `requests` in order (so [PUT, GET] is a 50/50 mix).
 */
export async function runLoad (addresses: readonly string[], requests: readonly LoadRequest[], body: Buffer,
  connections: number, seconds: number): Promise<LoadFigures> {
  const result = await autocannon({
    // autocannon takes several URLs (its types say one) and gives each connection the next one.
    url: addresses.map((a) => `http://${a}`) as unknown as string,
    connections,
    duration: seconds,
    requests: requests.map((r) => ({
      method: r.method,
      headers: r.method === 'PUT' ? { 'content-type': 'application/octet-stream' } : {},
      body: r.method === 'PUT' ? body : undefined,
      setupRequest: (req) => ({ ...req, path: r.path() })
    }))
  })
  return {
    rps: result.requests.average,
    requests: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    p999: result.latency.p99_9,
    errors: result.errors,
    non2xx: result.non2xx
  }
}

/** PUT `body` under /v1/kv/{prefix}{i} for i < count through `address`; throws on any answer but 204. */
export async function fill (address: string, prefix: string, count: number, body: Buffer): Promise<void> {
  for (let i = 0; i < count; i++) {
    const res = await fetch(`http://${address}/v1/kv/${prefix}${i}`, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } })
    if (res.status !== 204) throw new Error(`filling ${prefix}${i}: ${res.status} ${await res.text()}`)
  }
}

/** autocannon records whole milliseconds: 0 means under 1 ms. */
export function ms (value: number): string {
  return value === 0 ? '<1' : value.toFixed(0)
}

/** The median of `values` (the upper one of an even count). */
export function median (values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}
