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

  /** Throws LEVELRING_UNAUTHORIZED unless the headers carry an accepted bearer token. */
  check (headers: IncomingHttpHeaders): void {
    const header = headers.authorization
    const match = header === undefined ? null : /^Bearer ([\x21-\x7e]+)$/i.exec(header)
    const given = match === null ? undefined : digest(match[1]!)
    if (given !== undefined && this.#digests.some((d) => timingSafeEqual(d, given))) return
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
