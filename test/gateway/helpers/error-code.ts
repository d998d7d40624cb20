import { expect } from 'vitest'
import { GatewayError } from '../../../gateway/src/error/gateway-error.js'

/** The code of the GatewayError `fn` throws (failing the test on any other error), or undefined when it returns. */
export function errorCode (fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError)
    return (err as GatewayError).code
  }
  return undefined
}
