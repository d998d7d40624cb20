import { BlockList, isIP } from 'node:net'
import type { NextFunction, Request, Response } from 'express'
import { GatewayError } from '../error/gateway-error.js'
import type { BearerAuth } from './bearer-auth.js'

/** The path prefix of the operator endpoints (join, leave, repair, and any other added there). */
export const ADMIN_PREFIX = '/v1/admin'

/** 127.0.0.0/8 and ::1; BlockList also matches IPv4 rules against IPv4-mapped IPv6 addresses. */
const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')

/**
 * True when `address` (a socket's remoteAddress) is on the loopback interface: in 127.0.0.0/8, ::1
 * in any spelling, or an IPv4-mapped IPv6 form of 127.x (::ffff:127.0.0.1, ::ffff:7f00:1). Anything
 * else is not: other addresses, host names, and undefined (a socket already closed).
 */
export function isLoopbackAddress (address: string | undefined): boolean {
  const family = address === undefined ? 0 : isIP(address)
  return family !== 0 && LOOPBACK.check(address!, family === 4 ? 'ipv4' : 'ipv6')
}

/**
 * Who may call the operator endpoints. With admin tokens: a request bearing one of them; no token or
 * an unknown one is LEVELRING_UNAUTHORIZED (401), an accepted client token that is not an admin token
 * LEVELRING_FORBIDDEN (403). Without admin tokens: callers on the loopback interface only, anyone
 * else LEVELRING_FORBIDDEN; the client bearer check still applies to them when it is on.
 */
export class AdminAuth {
  readonly #admin: BearerAuth | undefined
  readonly #client: BearerAuth | undefined

  /** `admin`: the admin tokens (absent: loopback only); `client`: the client tokens, to tell a 403 from a 401. */
  constructor (admin: BearerAuth | undefined, client: BearerAuth | undefined) {
    this.#admin = admin
    this.#client = client
  }

  /** Throws unless the request may administer this node (see the class comment). */
  check (req: Request): void {
    if (this.#admin === undefined) {
      if (isLoopbackAddress(req.socket.remoteAddress)) return
      throw new GatewayError('LEVELRING_FORBIDDEN',
        'without --admin-token-file, the admin endpoints answer only callers on this node\'s loopback interface; ' +
        'start the node with --admin-token-file to administer it from elsewhere')
    }
    if (this.#admin.accepts(req.headers)) return
    if (this.#client?.accepts(req.headers) === true) {
      throw new GatewayError('LEVELRING_FORBIDDEN',
        'the admin endpoints need an admin token (one of --admin-token-file); this bearer token is a client token')
    }
    throw new GatewayError('LEVELRING_UNAUTHORIZED',
      req.headers.authorization === undefined
        ? 'the admin endpoints require Authorization: Bearer <admin token>'
        : 'the bearer token is not an admin token of this node')
  }

  /** Express middleware applying `check`; mount it on ADMIN_PREFIX. */
  middleware () {
    return (req: Request, _res: Response, next: NextFunction): void => {
      this.check(req)
      next()
    }
  }
}
