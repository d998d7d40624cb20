import type { Request, Response } from 'express'
import { GatewayError } from '../error/gateway-error.js'
import type { KeyReplicas } from '../ring/placement.js'
import { decodeKeySegment } from './key-segment.js'

/** Mount point of GET /v1/placement/{key}. */
export const PLACEMENT_PREFIX = '/v1/placement/'

/**
 * GET /v1/placement/{key}: the key's partition and its n primaries (node, zone, address) in
 * preference order, so an operator or a test sees where a key lives. The key is one raw path
 * segment, decoded and checked as /v1/kv/{key} does (a 400 otherwise); a query string is refused.
 */
export function placementRoute (placementOf: (key: string) => KeyReplicas) {
  return function placement (req: Request, res: Response): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD')
      throw new GatewayError('LEVELRING_METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${PLACEMENT_PREFIX}{key}; use GET`)
    }
    // Under app.use(PLACEMENT_PREFIX) req.url is the rest of the path, still percent-encoded, and the query.
    const url = req.url.startsWith('/') ? req.url.slice(1) : req.url
    const q = url.indexOf('?')
    if (q >= 0) {
      throw new GatewayError('LEVELRING_INVALID_PARAMETER', `GET ${PLACEMENT_PREFIX}{key} takes no query parameters`, { parameter: url.slice(q + 1).split('=')[0] ?? '' })
    }
    res.status(200).json(placementOf(decodeKeySegment(url)))
  }
}
