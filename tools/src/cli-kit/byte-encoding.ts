import { CliFailure } from './failure.js'

/** How keys and values are typed on the command line and shown: text, or hex for binary data. */
export type ByteEncoding = 'utf8' | 'hex'

/** The encodings `--encoding` accepts. */
export const BYTE_ENCODINGS: readonly ByteEncoding[] = ['utf8', 'hex']

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** The bytes an argument stands for; `what` names the argument in the error for bad hex. */
export function parseBytes (text: string, encoding: ByteEncoding, what: string): Buffer {
  if (encoding === 'utf8') return Buffer.from(text, 'utf8')
  if (!/^([0-9a-fA-F]{2})*$/.test(text)) {
    throw new CliFailure(`${what}: '${text}' is not hex (an even number of 0-9 a-f digits)`, { code: 'LEVELRING_BAD_ARGUMENT' })
  }
  return Buffer.from(text, 'hex')
}

/** Bytes as a JSON string: hex, or UTF-8 text (invalid sequences become U+FFFD: use hex for binary data). */
export function bytesForJson (bytes: Uint8Array, encoding: ByteEncoding): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(encoding)
}

/**
 * Bytes as a terminal shows them safely: hex, or UTF-8 text with control characters, backslashes and
 * invalid sequences written as \xNN escapes (so a key can never move the cursor or hide in the output).
 */
export function bytesForTerminal (bytes: Uint8Array, encoding: ByteEncoding): string {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (encoding === 'hex') return buf.toString('hex')
  let text: string
  try {
    text = strictUtf8.decode(buf)
  } catch {
    let out = ''
    for (const b of buf) out += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : escape(b)
    return out
  }
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f\\]/g, (c) => escape(c.charCodeAt(0)))
}

function escape (b: number): string {
  return '\\x' + b.toString(16).padStart(2, '0')
}
