import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Agent, request } from 'undici'
import { expect, test } from 'vitest'
import { freePorts, sleep } from '../support/process.js'
import { tempRoot } from '../support/temp-dir.js'

// `npm start -- --tls`: the local cluster over HTTPS with mutual TLS between its nodes, on a CA and
// node certificates made into <data>/tls the first time; clients trust that CA and need no certificate.

const SCRIPT = fileURLToPath(new URL('../../dist/tools/src/local-cluster.js', import.meta.url))
const root = tempRoot('levelring-local-tls')

test('npm start -- --tls: three nodes over HTTPS with mutual TLS, certificates made in the data directory', async () => {
  const dir = join(root, 'data')
  const ports = await freePorts(3)
  const launcher = spawn(process.execPath, [SCRIPT, '--ports', ports.join(','), '--data', dir, '--tls'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  launcher.stdout.on('data', (d) => { out += String(d) })
  launcher.stderr.on('data', (d) => { err += String(d) })
  const exited = new Promise<number | null>((resolve) => launcher.once('exit', (code) => resolve(code)))
  let client: Agent | undefined
  try {
    for (let i = 0; i < 300 && !out.includes('Ctrl-C stops all three'); i++) {
      if (launcher.exitCode !== null) throw new Error(`launcher exited ${launcher.exitCode}: ${err}`)
      await sleep(100)
    }
    expect(out).toContain('mutual TLS between nodes')
    for (const port of ports) expect(out).toContain(`https://127.0.0.1:${port}`)
    expect(out).toMatch(/curl --cacert \S*ca\.pem -i -X PUT/)
    for (const file of ['ca.pem', 'ca-key.pem', 'node1.pem', 'node1-key.pem', 'node3-key.pem']) expect(existsSync(join(dir, 'tls', file)), file).toBe(true)

    client = new Agent({ connect: { ca: readFileSync(join(dir, 'tls', 'ca.pem')) } })
    const [a, b] = ports.map((p) => `https://127.0.0.1:${p}`)
    const put = await request(`${a}/v1/kv/greeting?w=3`, { method: 'PUT', body: 'hello', headers: { 'content-type': 'text/plain' }, dispatcher: client })
    expect(put.statusCode, await put.body.text()).toBe(204)
    const read = await request(`${b}/v1/kv/greeting?r=3`, { dispatcher: client })
    expect(await read.body.text()).toBe('hello')
    await expect(fetch(`http://127.0.0.1:${ports[0]!}/v1/health`)).rejects.toThrow()
  } finally {
    await client?.close()
    launcher.kill('SIGINT')
  }
  expect(await exited).toBe(0)
  expect(err).toContain('all nodes stopped')
})
