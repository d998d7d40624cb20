import autocannon from 'autocannon'
import { Agent, request } from 'undici'

// Pieces the HTTP benchmarks share: the workload's value size, loading keys before a run, a run
// of autocannon reduced to the figures we report, and how figures are printed.

/** Value size of the issues' workloads. */
export const VALUE_BYTES = 10 * 1024

/** What one measured phase produced. */
export interface LoadFigures {
  readonly rps: number
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

/** How to reach a target: plain HTTP, or HTTPS with the CA that signed its certificates. */
export interface Transport {
  readonly scheme: 'http' | 'https'
  /** PEM CA the targets' certificates chain to (https). */
  readonly ca?: Buffer
}

export const PLAIN_HTTP: Transport = { scheme: 'http' }

/**
 * Drive `addresses` (connections spread over them round-robin) for `seconds` with `connections`
 * connections, each cycling through `requests` in order (so [PUT, GET] is a 50/50 mix). Over https
 * autocannon does the handshakes but does not check certificates (the load's figures are the point).
 */
export async function runLoad (addresses: readonly string[], requests: readonly LoadRequest[], body: Buffer,
  connections: number, seconds: number, transport: Transport = PLAIN_HTTP): Promise<LoadFigures> {
  const result = await autocannon({
    // autocannon takes several URLs (its types say one) and gives each connection the next one.
    url: addresses.map((a) => `${transport.scheme}://${a}`) as unknown as string,
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
    p50: result.latency.p50,
    p99: result.latency.p99,
    p999: result.latency.p99_9,
    errors: result.errors,
    non2xx: result.non2xx
  }
}

/** PUT `body` under /v1/kv/{prefix}{i} for i < count through `address`; throws on any answer but 204. */
export async function fill (address: string, prefix: string, count: number, body: Buffer, transport: Transport = PLAIN_HTTP): Promise<void> {
  // Over https the node's certificate is checked against the transport's CA.
  const dispatcher = new Agent({ connect: transport.ca === undefined ? {} : { ca: transport.ca } })
  try {
    for (let i = 0; i < count; i++) {
      const res = await request(`${transport.scheme}://${address}/v1/kv/${prefix}${i}`, {
        method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' }, dispatcher
      })
      const text = await res.body.text()
      if (res.statusCode !== 204) throw new Error(`filling ${prefix}${i}: ${res.statusCode} ${text}`)
    }
  } finally {
    await dispatcher.close()
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
