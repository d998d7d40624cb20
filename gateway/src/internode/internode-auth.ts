import { createHmac, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'

/** The header every internode call carries. */
export const CLUSTER_TOKEN_HEADER = 'x-levelring-cluster-token'

/** Separates this use of the cluster secret from context signing (causal-context.ts). */
const DOMAIN = 'levelring internode token v1'

/**
 * Authenticates internode calls by the cluster secret (--cluster-secret-file): every call carries
 * a token derived from the secret, HMAC-SHA256(secret, DOMAIN), and a node accepts a call only when
 * the token equals its own (compared in constant time). The secret itself never travels, and the
 * token is useless for signing causal contexts. The token proves the caller knows the secret, not
 * that a call is fresh: internode traffic is plain HTTP, so run it on a private network (or behind
 * TLS) where no one can read it; a replayed call can at worst repeat a merge (idempotent) or a write.
 */
export class InternodeAuth {
  readonly #token: Buffer
  /** The header value this node sends. */
  readonly token: string

  constructor (secret: Uint8Array) {
    this.#token = createHmac('sha256', secret).update(DOMAIN).digest()
    this.token = this.#token.toString('base64url')
  }

  /** True when the headers carry this cluster's token. */
  accepts (headers: IncomingHttpHeaders): boolean {
    const given = headers[CLUSTER_TOKEN_HEADER]
    if (typeof given !== 'string' || given.length !== this.token.length) return false
    const bytes = Buffer.from(given, 'base64url')
    return bytes.length === this.#token.length && timingSafeEqual(bytes, this.#token)
  }
}
