import type { IncomingMessage } from 'node:http'
import { GatewayError } from '../error/gateway-error.js'

/**
 * Read the whole request body, refusing (LEVELRING_VALUE_TOO_LARGE, a 413) as soon as it is known to
 * exceed `limit` bytes: from Content-Length before reading anything, or while streaming a chunked
 * body. The caller answers a refusal with `Connection: close` so the rest is never read.
 */
export async function readBody (req: IncomingMessage, limit: number, key: string): Promise<Buffer> {
  const declared = req.headers['content-length']
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(key, Number(declared), limit)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) throw tooLarge(key, size, limit)
    chunks.push(chunk)
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)
}

function tooLarge (key: string, size: number, limit: number): GatewayError {
  return new GatewayError('LEVELRING_VALUE_TOO_LARGE',
    `the value is ${size} bytes or more; this node accepts at most ${limit} bytes per value (maxValueBytes)`,
    { key, limit })
}
