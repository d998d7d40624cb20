// A stand-in for an attacker on the network: a raw TCP listener on 127.0.0.1 that records the
// bytes a node sends it and answers with canned HTTP (or relays to a real node, recording on the
// way), and a raw sender that replays recorded bytes to any node exactly as they were captured.
import { connect, createServer, type Server, type Socket } from 'node:net'

/** One HTTP request as received on the wire: its bytes, and its request line and headers parsed for assertions. */
export interface CapturedRequest {
  readonly bytes: Buffer
  readonly requestLine: string
  readonly headers: Readonly<Record<string, string>>
}

/** How the peer answers one captured request: canned bytes, or relay to this host:port. */
export type RawAnswer = { readonly reply: (request: CapturedRequest) => Buffer } | { readonly relayTo: string }

/** A listening raw peer: what it captured, its address, and close(). */
export interface RawPeer {
  readonly address: string
  readonly captured: CapturedRequest[]
  close (): Promise<void>
}

/** An HTTP/1.1 answer with a JSON body and extra headers (Connection: close). */
export function httpAnswer (status: number, body: unknown, headers: Record<string, string> = {}): Buffer {
  const json = Buffer.from(JSON.stringify(body))
  const head = [`HTTP/1.1 ${status} OK`, 'Content-Type: application/json', `Content-Length: ${json.length}`, 'Connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)].join('\r\n')
  return Buffer.concat([Buffer.from(head + '\r\n\r\n'), json])
}

/** Start a raw peer on 127.0.0.1 (port `port`, or a free one with 0). Each connection carries one request. */
export async function startRawPeer (answer: RawAnswer, port = 0): Promise<RawPeer> {
  const captured: CapturedRequest[] = []
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    let buffered = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      const request = parseRequest(buffered)
      if (request === undefined) return
      buffered = Buffer.alloc(0)
      captured.push(request)
      if ('reply' in answer) { socket.end(answer.reply(request)); return }
      void sendRaw(answer.relayTo, request.bytes).then((reply) => socket.end(reply), () => socket.destroy())
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const bound = server.address() as { port: number }
  return {
    address: `127.0.0.1:${bound.port}`,
    captured,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

/** Send `bytes` to host:port on a fresh connection, as they are; resolves with every byte of the answer (bounded: 5 s). */
export async function sendRaw (address: string, bytes: Buffer): Promise<Buffer> {
  const [host, port] = address.split(':') as [string, string]
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = connect(Number(port), host, () => socket.write(bytes))
    const timer = setTimeout(() => { socket.destroy(); resolve(Buffer.concat(chunks)) }, 5_000)
    socket.on('data', (c: Buffer) => {
      chunks.push(c)
      const all = Buffer.concat(chunks)
      if (answerComplete(all)) { clearTimeout(timer); socket.destroy(); resolve(all) }
    })
    socket.on('end', () => { clearTimeout(timer); resolve(Buffer.concat(chunks)) })
    socket.on('error', (err) => { clearTimeout(timer); reject(err) })
  })
}

/** The status code of a raw HTTP answer. */
export function statusOf (answer: Buffer): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(answer.toString('latin1'))?.[1] ?? 0)
}

function parseRequest (bytes: Buffer): CapturedRequest | undefined {
  const end = bytes.indexOf('\r\n\r\n')
  if (end === -1) return undefined
  const [requestLine, ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n') as [string, ...string[]]
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  const length = Number(headers['content-length'] ?? 0)
  if (bytes.length < end + 4 + length) return undefined
  return { bytes: bytes.subarray(0, end + 4 + length), requestLine, headers }
}

function answerComplete (bytes: Buffer): boolean {
  const end = bytes.indexOf('\r\n\r\n')
  if (end === -1) return false
  if (/^HTTP\/1\.1 (204|304)/.test(bytes.toString('latin1', 0, 12))) return true
  const length = /\r\ncontent-length: *(\d+)/i.exec(bytes.subarray(0, end).toString('latin1'))?.[1]
  return length !== undefined && bytes.length >= end + 4 + Number(length)
}
