import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import type { NextFunction, Request, Response } from 'express'
import { GatewayError } from '../error/gateway-error.js'

/**
 * Checks `Authorization: Bearer <token>` against the accepted tokens. Tokens are compared as
 * SHA-256 digests with timingSafeEqual, so neither length nor prefix leaks by timing.
 */
export class BearerAuth {
  readonly #digests: Buffer[]

  /** `tokens` must not be empty (no tokens means authentication is off: do not build one). */
  constructor (tokens: readonly string[]) {
    if (tokens.length === 0) throw new RangeError('BearerAuth needs at least one token')
    this.#digests = tokens.map(digest)
  }

  /** True when the headers carry one of the accepted bearer tokens (every digest is compared, in constant time). */
  accepts (headers: IncomingHttpHeaders): boolean {
    const header = headers.authorization
    const match = header === undefined ? null : /^Bearer ([\x21-\x7e]+)$/i.exec(header)
    if (match === null) return false
    const given = digest(match[1]!)
    return this.#digests.reduce((found, d) => timingSafeEqual(d, given) || found, false)
  }

  /** Throws LEVELRING_UNAUTHORIZED unless the headers carry an accepted bearer token. */
  check (headers: IncomingHttpHeaders): void {
    if (this.accepts(headers)) return
    const header = headers.authorization
    throw new GatewayError('LEVELRING_UNAUTHORIZED',
      header === undefined
        ? 'this node requires Authorization: Bearer <token>'
        : 'the bearer token is not one this node accepts')
  }

  /** Express middleware applying `check`, except on the paths in `open` (health checks). */
  middleware (open: ReadonlySet<string>) {
    return (req: Request, _res: Response, next: NextFunction): void => {
      if (!open.has(req.path)) this.check(req.headers)
      next()
    }
  }
}

function digest (token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest()
}
