import { expect, test } from 'vitest'
import { ApiContract } from '../../../gateway/src/http/contract.js'
import { validateParameters } from '../../../gateway/src/http/request-parameters.js'
import { GatewayError } from '../../../gateway/src/error/gateway-error.js'

// The kv routes' parameter check against openapi/levelring.yaml. Each operation's checked values are
// remembered: a value answers the same the hundredth time as the first, valid or not.

const contract = ApiContract.load()
const getOp = contract.operation('getObject')
const putOp = contract.operation('putObject')

function refusal (fn: () => unknown): GatewayError {
  try { fn() } catch (err) { if (err instanceof GatewayError) return err; throw err }
  throw new Error('no refusal')
}

test('a repeated value is parsed the same every time: numbers and booleans as such, the quorum names as text', () => {
  for (let i = 0; i < 3; i++) {
    expect(validateParameters(getOp, { r: '2', pr: 'quorum', timeout_ms: '1500' }, {}, 'k')).toEqual({ r: 2, pr: 'quorum', timeout_ms: 1500 })
    expect(validateParameters(putOp, { w: 'all', returnbody: 'true' }, {}, 'k')).toEqual({ w: 'all', returnbody: true })
    expect(validateParameters(getOp, {}, {}, 'k')).toEqual({})
  }
})

test('a repeated invalid value is refused every time with the parameter, the key and the schema\'s reason', () => {
  const first = new Map<string, string>()
  for (let i = 0; i < 3; i++) {
    for (const [query, parameter, says] of [[{ r: '0' }, 'r', 'r="0" is invalid: '], [{ r: 'x' }, 'r', 'r="x" is invalid: '], [{ timeout_ms: '-3' }, 'timeout_ms', 'is invalid: '], [{ w: '2' }, 'w', 'unknown query parameter']] as const) {
      const err = refusal(() => validateParameters(getOp, query, {}, 'key-1'))
      expect(err.code).toBe('LEVELRING_INVALID_PARAMETER')
      expect(err.details).toMatchObject({ key: 'key-1', parameter })
      expect(err.message).toContain(says)
      const seen = first.get(JSON.stringify(query))
      if (seen === undefined) first.set(JSON.stringify(query), err.message)
      else expect(err.message, 'the same reason as the first time').toBe(seen)
    }
    expect(refusal(() => validateParameters(getOp, { r: ['2', '2'] }, {}, 'k')).message).toContain('more than once')
  }
})

test('more distinct values than are remembered are each still checked', () => {
  for (let t = 1; t <= 200; t++) expect(validateParameters(getOp, { timeout_ms: String(t) }, {}, 'k')).toEqual({ timeout_ms: t })
  for (let t = 1; t <= 200; t++) expect(refusal(() => validateParameters(getOp, { timeout_ms: `-${t}` }, {}, 'k')).details).toMatchObject({ parameter: 'timeout_ms' })
  expect(validateParameters(getOp, { timeout_ms: '77' }, {}, 'k')).toEqual({ timeout_ms: 77 })
})
