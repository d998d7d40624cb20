import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

// The ceiling of `npm run bench:gateway`: a bare node:http server answering PUT/GET of
// /v1/kv/{key} from a Map, with no validation, versioning or storage. Run as a child process; it
// prints {"address":"127.0.0.1:port"} on stdout once listening and stops on SIGTERM.

const values = new Map<string, { type: string, body: Buffer }>()
const server = createServer((req, res) => {
  const key = req.url ?? ''
  if (req.method === 'PUT') {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      values.set(key, { type: req.headers['content-type'] ?? 'application/octet-stream', body: Buffer.concat(chunks) })
      res.writeHead(204).end()
    })
    return
  }
  const found = values.get(key)
  if (found === undefined) { res.writeHead(404).end(); return }
  res.writeHead(200, { 'Content-Type': found.type, 'Content-Length': found.body.length }).end(found.body)
})
server.listen(0, '127.0.0.1', () => {
  const { address, port } = server.address() as AddressInfo
  process.stdout.write(JSON.stringify({ address: `${address}:${port}` }) + '\n')
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
