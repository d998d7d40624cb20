import { GatewayError } from '../error/gateway-error.js'

/** Keys are 1..MAX_KEY_BYTES bytes of UTF-8: the contract's limit, small enough to keep keys cheap in every SSTable index. */
export const MAX_KEY_BYTES = 1024

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** Path characters that stand for themselves: printable ASCII except '%' (escapes) and '/' (segments). */
const PLAIN_ASCII = /^[\x20-\x24\x26-\x2e\x30-\x7e]+$/

/**
 * Decode the key from the raw (still percent-encoded) path segment. Refuses, with a 400 naming the
 * reason: a '/' (the key must be one segment; send it as %2F), a malformed %-escape, bytes that are
 * not UTF-8, and a key outside 1..MAX_KEY_BYTES bytes.
 */
export function decodeKeySegment (raw: string): string {
  // Fast path: printable ASCII without escapes is already the key (ASCII is valid UTF-8).
  if (raw.length > 0 && raw.length <= MAX_KEY_BYTES && PLAIN_ASCII.test(raw)) return raw
  if (raw.includes('/')) {
    throw invalidKey('the key must be one path segment: send a "/" inside a key as %2F')
  }
  const bytes: number[] = []
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i)
    if (c === 0x25) { // '%'
      const hex = raw.slice(i + 1, i + 3)
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw invalidKey(`malformed percent-escape at character ${i} of the key`)
      bytes.push(parseInt(hex, 16))
      i += 2
    } else if (c > 0xff) {
      throw invalidKey('the key must be sent percent-encoded')
    } else {
      bytes.push(c) // raw bytes above 0x7f arrive as latin1 characters from the request line
    }
  }
  if (bytes.length === 0) throw invalidKey('the key is empty: keys are 1 to 1024 bytes')
  if (bytes.length > MAX_KEY_BYTES) throw invalidKey(`the key is ${bytes.length} bytes; keys are at most ${MAX_KEY_BYTES} bytes of UTF-8`)
  try {
    return strictUtf8.decode(Uint8Array.from(bytes))
  } catch {
    throw invalidKey('the key is not valid UTF-8')
  }
}

function invalidKey (detail: string): GatewayError {
  return new GatewayError('LEVELRING_INVALID_KEY', detail, { parameter: 'key' })
}
