import { spawn } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, test } from 'vitest'
import { freePorts, sleep } from '../support/process.js'
import { tempRoot } from '../support/temp-dir.js'

// `npm start` runs dist/tools/src/local-cluster.js: three node processes, a generated secret,
// a banner with a curl example, and a clean stop of all three on Ctrl-C. Here it runs on free
// ports and a temp data directory (the same code path, other --ports and --data).

const SCRIPT = fileURLToPath(new URL('../../dist/tools/src/local-cluster.js', import.meta.url))
const root = tempRoot('levelring-local')

test('starts three nodes that serve as one cluster, prints where to send requests, and stops all three cleanly on SIGINT', async () => {
  const dir = join(root, 'data')
  const ports = await freePorts(3)
  const launcher = spawn(process.execPath, [SCRIPT, '--ports', ports.join(','), '--data', dir], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  launcher.stdout.on('data', (d) => { out += String(d) })
  launcher.stderr.on('data', (d) => { err += String(d) })
  const exited = new Promise<number | null>((resolve) => launcher.once('exit', (code) => resolve(code)))
  try {
    for (let i = 0; i < 300 && !out.includes('Ctrl-C stops all three'); i++) {
      if (launcher.exitCode !== null) throw new Error(`launcher exited ${launcher.exitCode}: ${err}`)
      await sleep(100)
    }
    expect(out).toContain('Ctrl-C stops all three')
    for (const port of ports) expect(out).toContain(`http://127.0.0.1:${port}`)
    expect(out).toMatch(/curl .*-X PUT .*\/v1\/kv\/greeting/)

    const [a, b, c] = ports.map((p) => `http://127.0.0.1:${p}`)
    expect((await fetch(`${a}/v1/kv/greeting`, { method: 'PUT', body: 'hello', headers: { 'Content-Type': 'text/plain' } })).status).toBe(204)
    expect(await (await fetch(`${b}/v1/kv/greeting?r=2`)).text()).toBe('hello')
    const view = await (await fetch(`${c}/v1/cluster`)).json() as any
    expect(view.ring.replicas).toBe(3)
    expect(view.ring.owners.map((o: any) => o.id)).toEqual(['node1', 'node2', 'node3'])
    // n=3: all three replicas answer.
    expect((await fetch(`${a}/v1/kv/greeting?r=all`)).status).toBe(200)

    const secret = join(dir, 'cluster-secret')
    expect(statSync(secret).mode & 0o777).toBe(0o600)
    for (const id of ['node1', 'node2', 'node3']) expect(existsSync(join(dir, id))).toBe(true)
  } finally {
    launcher.kill('SIGINT')
  }
  expect(await exited).toBe(0)
  expect(err).toContain('all nodes stopped')
  for (const id of ['node1', 'node2', 'node3']) {
    const log = await readFile(join(dir, `${id}.log`), 'utf8')
    expect(log, id).toContain('"msg":"node stopped"')
  }
  for (const port of ports) {
    await expect(fetch(`http://127.0.0.1:${port}/v1/health`)).rejects.toThrow()
  }
})
