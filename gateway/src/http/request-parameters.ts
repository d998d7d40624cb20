import { GatewayError, type GatewayErrorCode } from '../error/gateway-error.js'
import { ApiContract, type OperationContract } from './contract.js'

/**
 * Check a request's query string and headers against an operation's documented parameters:
 * unknown or repeated query parameters, missing required ones and values outside their schema are
 * a 400 naming the parameter. Query strings carry text, so a value is tried as the number or
 * boolean it spells before as text, and the first form the schema accepts is returned.
 */
export function validateParameters (
  op: OperationContract,
  query: Readonly<Record<string, unknown>>,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  key: string | undefined
): Record<string, unknown> {
  const details: Record<string, string> = key === undefined ? {} : { key }
  const out: Record<string, unknown> = {}
  const known = new Set(op.parameters.filter((p) => p.in === 'query').map((p) => p.name))
  for (const name of Object.keys(query)) {
    if (!known.has(name)) {
      throw new GatewayError('LEVELRING_INVALID_PARAMETER',
        `unknown query parameter ${JSON.stringify(name)}; ${op.operationId} takes ${[...known].join(', ') || 'none'}`,
        { ...details, parameter: name })
    }
  }
  for (const p of op.parameters) {
    if (p.in === 'path') {
      // The one path parameter is the key, already decoded (and its byte length checked) by the caller.
      if (key !== undefined && !p.validate(key)) {
        throw new GatewayError('LEVELRING_INVALID_KEY', `the key is invalid: ${ApiContract.describe(p.validate)}`, { parameter: p.name })
      }
      continue
    }
    const raw = p.in === 'query' ? query[p.name] : headers[p.name.toLowerCase()]
    if (raw === undefined) {
      if (p.required) throw new GatewayError('LEVELRING_INVALID_PARAMETER', `${p.name} is required`, { ...details, parameter: p.name })
      continue
    }
    if (typeof raw !== 'string') {
      throw new GatewayError(codeFor(p.name), `${p.name} is given more than once; give it once`, { ...details, parameter: p.name })
    }
    const value = candidates(raw).find((v) => p.validate(v))
    if (value === undefined) {
      p.validate(raw)
      throw new GatewayError(codeFor(p.name),
        `${p.name}=${JSON.stringify(raw.length > 64 ? raw.slice(0, 64) + '…' : raw)} is invalid: ${ApiContract.describe(p.validate)}`,
        { ...details, parameter: p.name })
    }
    out[p.name] = value
  }
  return out
}

/** A malformed causal context is reported as such, whichever check catches it. */
function codeFor (parameter: string): GatewayErrorCode {
  return parameter === 'X-Causal-Context' ? 'LEVELRING_INVALID_CONTEXT' : 'LEVELRING_INVALID_PARAMETER'
}

function candidates (raw: string): unknown[] {
  if (/^-?[0-9]{1,15}$/.test(raw)) return [Number(raw), raw]
  if (raw === 'true' || raw === 'false') return [raw === 'true', raw]
  return [raw]
}
