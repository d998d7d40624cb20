import { spawn, type ChildProcess } from 'node:child_process'
import { request as httpRequest } from 'node:http'
import { createInterface } from 'node:readline'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, expect, test } from 'vitest'
import { startNodeProcess } from '../../support/node-process.js'
import { waitForExit } from '../../support/process.js'
import { tempRoot } from '../../support/temp-dir.js'

// Runs the built command (npm test builds first).
const bin = fileURLToPath(new URL('../../../bin/levelring.js', import.meta.url))
const dir = tempRoot('levelring-stopping')
const children: ChildProcess[] = []

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
})

/** Start a node whose stdout and stderr are pipes this test holds; resolves with its URL once it listens. */
async function startPiped (args: string[]): Promise<{ child: ChildProcess, url: string }> {
  const child = spawn(process.execPath, [bin, 'start', '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! })
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string, address?: string }
      if (/listening/.test(String(entry.msg)) && typeof entry.address === 'string') { lines.close(); resolve(`http://${entry.address}`) }
    })
    child.on('exit', (code) => reject(new Error(`node exited ${String(code)} before listening`)))
  })
  return { child, url }
}

test('a node whose log reader went away (closed stdout and stderr pipes) still serves, and stops cleanly on SIGTERM', async () => {
  const data = join(dir, 'closed-pipe')
  const { child, url } = await startPiped(['--node-id', 'quiet', '--data-dir', data])
  expect((await fetch(`${url}/v1/kv/before`, { method: 'PUT', body: 'kept', headers: { 'Content-Type': 'text/plain' } })).status).toBe(204)
  // The reader exits: every later log line the node writes meets EPIPE.
  child.stdout!.destroy()
  child.stderr!.destroy()
  for (let i = 0; i < 20; i++) {
    expect((await fetch(`${url}/v1/kv/k${i}`, { method: 'PUT', body: `v${i}`, headers: { 'Content-Type': 'text/plain' } })).status).toBe(204)
  }
  const t0 = performance.now()
  child.kill('SIGTERM')
  const exit = await waitForExit(child, 15_000)
  const stopMs = performance.now() - t0
  expect(exit).toEqual({ code: 0, signal: null })
  expect(stopMs).toBeLessThan(12_000)
  // The engine was closed: it removes its LOCK file only then (a process that just exits leaves it behind).
  expect(existsSync(join(data, 'LOCK'))).toBe(false)
  const again = await startNodeProcess(['--node-id', 'quiet', '--data-dir', data])
  children.push(again.child)
  expect(await (await fetch(`${again.url}/v1/kv/before`)).text()).toBe('kept')
  expect(await (await fetch(`${again.url}/v1/kv/k19`)).text()).toBe('v19')
  await again.stop()
  expect(again.child.exitCode).toBe(0)
})

test('a second signal stops a node at once, while the first still waits for an in-flight request', async () => {
  const node = await startNodeProcess(['--node-id', 'twice', '--data-dir', join(dir, 'twice'), '--shutdown-grace-ms', '60000'])
  children.push(node.child)
  // An upload that never finishes keeps the first signal's graceful stop waiting.
  const req = httpRequest(`${node.url}/v1/kv/slow`, { method: 'PUT', headers: { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' } })
  req.on('error', () => {})
  req.write('half')
  await new Promise((resolve) => setTimeout(resolve, 200))
  node.child.kill('SIGTERM')
  await new Promise((resolve) => setTimeout(resolve, 500))
  expect(node.child.exitCode).toBe(null)
  const t0 = performance.now()
  node.child.kill('SIGINT')
  const exit = await waitForExit(node.child, 5_000)
  expect(exit.code).toBe(1)
  expect(performance.now() - t0).toBeLessThan(3_000)
  expect(node.lines.some((l) => l.msg === 'second signal: exiting now')).toBe(true)
  req.destroy()
})

test('a log pipe nobody reads never blocks the event loop: lines past the buffer are dropped', async () => {
  const fixture = fileURLToPath(new URL('./fixtures/log-flood.mjs', import.meta.url))
  const child = spawn(process.execPath, [fixture], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  child.stdout.pause() // a reader that never reads: the pipe fills at 64 KiB
  let err = ''
  child.stderr.on('data', (d) => { err += String(d) })
  expect((await waitForExit(child, 10_000)).code).toBe(0)
  const report = JSON.parse(err) as { loopMs: number, ticks: number, dropped: number }
  // 20 MB offered; the sink holds 4 MiB and drops the rest instead of blocking or growing.
  expect(report.dropped).toBeGreaterThan(10_000)
  expect(report.ticks).toBeGreaterThan(10)
  expect(report.loopMs).toBeLessThan(2_000)
  child.stdout.destroy()
})
