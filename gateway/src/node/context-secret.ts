import type { TextSpace } from '../replica/node-storage.js'
import { randomBytes } from 'node:crypto'
import { durable } from '../replica/node-storage.js'

const SECRET_KEY = 'context-secret'

/** Bytes of a generated secret: a full HMAC-SHA256 block of entropy. */
const GENERATED_SECRET_BYTES = 32

/**
 * The key that signs causal contexts. A cluster shares one (--cluster-secret-file) so a token read
 * from one node is accepted by another; a lone node without one generates a secret once and keeps it
 * in its data directory, so tokens stay valid across restarts.
 */
export async function loadContextSecret (meta: TextSpace, configured?: Buffer): Promise<Buffer> {
  if (configured !== undefined) return configured
  const stored = await meta.get(SECRET_KEY)
  if (stored !== undefined) return Buffer.from(stored, 'base64')
  const secret = randomBytes(GENERATED_SECRET_BYTES)
  await meta.put(SECRET_KEY, secret.toString('base64'), durable(true))
  return secret
}
