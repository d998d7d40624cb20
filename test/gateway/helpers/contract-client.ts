import { expect } from 'vitest'
import request, { type Response } from 'supertest'
import { ApiContract } from '../../../gateway/src/http/contract.js'

/** Loaded once per test file: the document every response is checked against. */
export const contract = ApiContract.load()

/** What one call sends. */
export interface Call {
  readonly query?: string
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: Buffer | string
}

/** A response whose body is always the raw bytes (`body`), plus the parsed JSON when it is JSON. */
export interface CheckedResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Buffer
  readonly json: any
  readonly raw: Response
}

/**
 * Drives a node over a real socket with supertest and checks EVERY response against
 * openapi/levelring.yaml: documented status (or `default`), required headers and their schemas, the
 * media type and the body's schema. Errors must be problem+json whose `status` matches.
 */
export class ContractClient {
  readonly #url: string
  readonly #token: string | undefined

  constructor (url: string, token?: string) {
    this.#url = url
    this.#token = token
  }

  get (path: string, call: Call = {}): Promise<CheckedResponse> { return this.send('GET', path, call) }
  put (path: string, call: Call = {}): Promise<CheckedResponse> { return this.send('PUT', path, call) }
  delete (path: string, call: Call = {}): Promise<CheckedResponse> { return this.send('DELETE', path, call) }

  async send (method: string, path: string, call: Call = {}): Promise<CheckedResponse> {
    const url = call.query === undefined ? path : `${path}?${call.query}`
    let test = request(this.#url)[method.toLowerCase() as 'get'](url)
      .buffer(true)
      .parse((res, done) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => done(null, Buffer.concat(chunks)))
      })
    if (this.#token !== undefined) test = test.set('Authorization', `Bearer ${this.#token}`)
    for (const [name, value] of Object.entries(call.headers ?? {})) test = test.set(name, value)
    if (call.body !== undefined) test = test.send(call.body)
    const raw = await test
    const body: Buffer = Buffer.isBuffer(raw.body) ? raw.body : Buffer.alloc(0)
    const type = String(raw.headers['content-type'] ?? '').split(';')[0]!.trim()
    const json = /[/+]json$/.test(type) && body.length > 0 ? JSON.parse(body.toString('utf8')) : undefined
    const checked: CheckedResponse = { status: raw.status, headers: raw.headers as Record<string, string>, body, json, raw }
    checkAgainstContract(method, path, checked)
    return checked
  }
}

/** The operationId for a request, or undefined for a route/method the document does not define. */
export function operationFor (method: string, path: string): string | undefined {
  const m = method === 'HEAD' ? 'GET' : method
  if (path.startsWith('/v1/kv/')) return ({ GET: 'getObject', PUT: 'putObject', DELETE: 'deleteObject' } as Record<string, string>)[m]
  if (path === '/v1/health' && m === 'GET') return 'getHealth'
  if (path === '/v1/cluster' && m === 'GET') return 'getCluster'
  if (path.startsWith('/v1/placement/') && m === 'GET') return 'getPlacement'
  if (m === 'POST') return ({ '/v1/admin/join': 'join', '/v1/admin/leave': 'leave', '/v1/admin/repair': 'repair', '/v1/admin/remove': 'removeMember', '/v1/admin/replace': 'replaceMember' } as Record<string, string>)[path]
  return undefined
}

/** Fail the test when `res` is not what the document allows for this request. */
export function checkAgainstContract (method: string, path: string, res: CheckedResponse): void {
  const where = `${method} ${path} -> ${res.status}`
  const type = String(res.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
  if (res.status >= 400) {
    expect(type, `${where}: errors are problem+json`).toBe('application/problem+json')
    expect(contract.schema('Problem')(res.json), `${where}: ${ApiContract.describe(contract.schema('Problem'))}`).toBe(true)
    expect(res.json.status, `${where}: problem.status`).toBe(res.status)
  }
  const operationId = operationFor(method, path)
  if (operationId === undefined) {
    expect(res.status, `${where}: undocumented route or method answers an error`).toBeGreaterThanOrEqual(400)
    return
  }
  const op = contract.operation(operationId)
  const spec = op.responses.get(String(res.status)) ?? op.responses.get('default')
  expect(spec, `${where}: status not documented for ${operationId}`).toBeDefined()
  for (const h of spec!.headers) {
    const value = res.headers[h.name.toLowerCase()]
    if (h.required) expect(value, `${where}: required header ${h.name}`).toBeDefined()
    if (value !== undefined) expect(h.validate(value), `${where}: header ${h.name}=${value} ${ApiContract.describe(h.validate)}`).toBe(true)
  }
  if (spec!.content.size === 0) {
    expect(res.body.length, `${where}: no body documented`).toBe(0)
    return
  }
  if (method === 'HEAD') return
  const candidates = [...spec!.content].filter(([media]) => media === type || media === '*/*')
  expect(candidates.length, `${where}: media type ${type} not documented`).toBeGreaterThan(0)
  const errors: string[] = []
  const ok = candidates.some(([media, validate]) => {
    if (validate === undefined) return true
    if (media === '*/*' && res.json === undefined) return true
    if (validate(res.json)) return true
    errors.push(`${media}: ${ApiContract.describe(validate)}`)
    return false
  })
  expect(ok, `${where}: body does not match the document: ${errors.join(' | ')}`).toBe(true)
}

/** Percent-encode a key as one path segment. */
export function kvPath (key: string): string {
  return `/v1/kv/${encodeURIComponent(key)}`
}
