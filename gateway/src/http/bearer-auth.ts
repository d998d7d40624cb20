import { createHash, timingSafeEqual } from 'node:crypto'
import type { NextFunction, Request, Response } from 'express'
import { GatewayError } from '../gateway-error.js'

/**
 * Express middleware requiring `Authorization: Bearer <token>` with one of `tokens`. Tokens are
 * compared as SHA-256 digests with timingSafeEqual, so neither length nor prefix leaks by timing.
 * Paths in `open` (health checks) pass without a token.
 */
export function bearerAuth (tokens: readonly string[], open: ReadonlySet<string>) {
  const digests = tokens.map(digest)
  return function requireBearer (req: Request, _res: Response, next: NextFunction): void {
    if (open.has(req.path)) { next(); return }
    const header = req.headers.authorization
    const match = header === undefined ? null : /^Bearer ([\x21-\x7e]+)$/i.exec(header)
    const given = match === null ? undefined : digest(match[1]!)
    if (given !== undefined && digests.some((d) => timingSafeEqual(d, given))) { next(); return }
    next(new GatewayError('LEVELRING_UNAUTHORIZED',
      header === undefined
        ? 'this node requires Authorization: Bearer <token>'
        : 'the bearer token is not one this node accepts'))
  }
}

function digest (token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest()
}
