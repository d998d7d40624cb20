import { GatewayError, type GatewayErrorCode } from '../error/gateway-error.js'
import { ApiContract, type OperationContract, type ParameterContract } from './contract.js'

/**
 * Most distinct raw values remembered per parameter (see Plan): quorum parameters take a handful
 * of values, so this holds them all, and a client sending ever new ones only costs the schema check.
 */
const REMEMBERED_VALUES = 64

/** Raw values longer than this are checked every time (tokens): remembering them would not pay. */
const REMEMBERED_LENGTH = 32

/** What an invalid raw value is remembered as. */
const INVALID = Symbol('invalid')

/**
 * An operation's parameters, prepared once: the query names it takes, and per parameter the values
 * already checked (a raw value's outcome depends on nothing else, so a request repeating `r=2`
 * skips the schema).
 */
interface Plan {
  readonly known: ReadonlySet<string>
  readonly parameters: ReadonlyArray<{ readonly p: ParameterContract, readonly header: string, readonly checked: Map<string, unknown> }>
}

const plans = new WeakMap<OperationContract, Plan>()

function planOf (op: OperationContract): Plan {
  let plan = plans.get(op)
  if (plan === undefined) {
    plan = {
      known: new Set(op.parameters.filter((p) => p.in === 'query').map((p) => p.name)),
      parameters: op.parameters.map((p) => ({ p, header: p.name.toLowerCase(), checked: new Map<string, unknown>() }))
    }
    plans.set(op, plan)
  }
  return plan
}

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
  const details = (): Record<string, string> => key === undefined ? {} : { key }
  const out: Record<string, unknown> = {}
  const { known, parameters } = planOf(op)
  for (const name in query) {
    if (!known.has(name)) {
      throw new GatewayError('LEVELRING_INVALID_PARAMETER',
        `unknown query parameter ${JSON.stringify(name)}; ${op.operationId} takes ${[...known].join(', ') || 'none'}`,
        { ...details(), parameter: name })
    }
  }
  for (const { p, header, checked } of parameters) {
    if (p.in === 'path') {
      // The one path parameter is the key, already decoded (and its byte length checked) by the caller.
      if (key !== undefined && !p.validate(key)) {
        throw new GatewayError('LEVELRING_INVALID_KEY', `the key is invalid: ${ApiContract.describe(p.validate)}`, { parameter: p.name })
      }
      continue
    }
    const raw = p.in === 'query' ? query[p.name] : headers[header]
    if (raw === undefined) {
      if (p.required) throw new GatewayError('LEVELRING_INVALID_PARAMETER', `${p.name} is required`, { ...details(), parameter: p.name })
      continue
    }
    if (typeof raw !== 'string') {
      throw new GatewayError(codeFor(p.name), `${p.name} is given more than once; give it once`, { ...details(), parameter: p.name })
    }
    let value = checked.get(raw)
    if (value === undefined) {
      value = candidates(raw).find((v) => p.validate(v)) ?? INVALID
      if (raw.length <= REMEMBERED_LENGTH && checked.size < REMEMBERED_VALUES) checked.set(raw, value)
    }
    if (value === INVALID) {
      p.validate(raw) // the schema's errors for the raw text, which describe() reports
      throw new GatewayError(codeFor(p.name),
        `${p.name}=${JSON.stringify(raw.length > 64 ? raw.slice(0, 64) + '…' : raw)} is invalid: ${ApiContract.describe(p.validate)}`,
        { ...details(), parameter: p.name })
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
