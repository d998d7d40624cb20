import { spawn, type ChildProcess } from 'node:child_process'
import { request as httpRequest } from 'node:http'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, expect, test } from 'vitest'
import { startNodeProcess } from '../../support/node-process.js'
import { waitForExit } from '../../support/process.js'
import { tempRoot } from '../../support/temp-dir.js'

// Runs the built command (npm test builds first): bin/levelring.js -> dist/tools/src/cli.js.
const bin = new URL('../../../bin/levelring.js', import.meta.url).pathname
const dir = tempRoot('levelring-cli')
const children: ChildProcess[] = []

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
})

test('levelring start serves, takes settings from --config and flags, and stops cleanly on SIGTERM after in-flight requests', async () => {
  const config = join(dir, 'node.yaml')
  await writeFile(config, 'nodeId: from-file\nreplicas: 3\ndefaults:\n  w: 1\n  r: 1\nmaxValueBytes: 2048\n')
  const node = await startNodeProcess(['--config', config, '--node-id', 'cli1', '--data', join(dir, 'cli1'), '--peers', '127.0.0.1:7102,127.0.0.1:7103'])
  children.push(node.child)
  const health = await (await fetch(`${node.url}/v1/health`)).json() as { nodeId: string, status: string }
  expect(health).toMatchObject({ nodeId: 'cli1', status: 'ok' })
  const cluster = await (await fetch(`${node.url}/v1/cluster`)).json() as { ring: { replicas: number }, peers: unknown[] }
  expect(cluster.ring.replicas).toBe(3)
  expect(cluster.peers).toHaveLength(2)
  expect((await fetch(`${node.url}/v1/kv/k`, { method: 'PUT', body: 'x'.repeat(2049) })).status).toBe(413)

  // An upload in flight when SIGTERM arrives still completes; then the process exits 0.
  const answer = new Promise<number>((resolve, reject) => {
    const req = httpRequest(`${node.url}/v1/kv/inflight`, { method: 'PUT', headers: { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' } },
      (res) => { res.resume(); resolve(res.statusCode!) })
    req.on('error', reject)
    req.write('first half, ')
    setTimeout(() => {
      node.child.kill('SIGTERM')
      setTimeout(() => req.end('second half'), 200)
    }, 100)
  })
  expect(await answer).toBe(204)
  expect((await waitForExit(node.child, 15_000)).code).toBe(0)
  expect(node.lines.some((l) => l.msg === 'node stopped')).toBe(true)
})

test('a bad setting exits 1 naming it', async () => {
  const child = spawn(process.execPath, [bin, 'start', '--node-id', 'bad id!', '--data', join(dir, 'bad')], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let err = ''
  child.stderr.on('data', (d) => { err += String(d) })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  expect(code).toBe(1)
  expect(err).toMatch(/LEVELRING_BAD_CONFIG: configuration nodeId/)
})

test('acknowledged writes survive SIGKILL of the node process', async () => {
  const data = join(dir, 'crash')
  const node = await startNodeProcess(['--node-id', 'crash', '--data', data])
  children.push(node.child)
  const acked: string[] = []
  for (let i = 0; i < 60; i++) {
    const key = `k${i}`
    const res = await fetch(`${node.url}/v1/kv/${key}${i % 2 === 0 ? '?dw=1' : ''}`, { method: 'PUT', body: `value ${i}`, headers: { 'Content-Type': 'text/plain' } })
    if (res.status === 204) acked.push(key)
  }
  expect(acked).toHaveLength(60)
  node.child.kill('SIGKILL')
  await waitForExit(node.child, 15_000)
  const again = await startNodeProcess(['--node-id', 'crash', '--data', data])
  children.push(again.child)
  for (const key of acked) {
    const res = await fetch(`${again.url}/v1/kv/${key}`)
    expect(res.status, key).toBe(200)
    expect(await res.text()).toBe(`value ${key.slice(1)}`)
  }
  again.child.kill('SIGTERM')
  expect((await waitForExit(again.child, 15_000)).code).toBe(0)
})
