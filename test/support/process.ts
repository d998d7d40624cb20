// Processes, ports and waiting: what the multi-process tests share.
import type { ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'

/** Resolve after `ms` milliseconds. */
export async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

/** `count` distinct ports that were free a moment ago (bound together on 127.0.0.1, then released). */
export async function freePorts (count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, async () => await new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => { resolve(server) })
  })))
  const ports = servers.map((s) => (s.address() as AddressInfo).port)
  await Promise.all(servers.map(async (s) => await new Promise((resolve) => s.close(resolve))))
  return ports
}

/**
 * Poll every `intervalMs` until `check` holds; resolves with the milliseconds it took. Bounded by `timeoutMs`
 * (throws naming `what`). A check that throws (a node not answering yet) counts as not yet.
 */
export async function waitUntil (what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, intervalMs = 100): Promise<number> {
  const started = performance.now()
  for (;;) {
    let ok = false
    try { ok = await check() } catch { ok = false }
    if (ok) return performance.now() - started
    if (performance.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`)
    await sleep(intervalMs)
  }
}

/** The exit code (or signal) of `child`, once it has exited; throws if that takes longer than `timeoutMs`. */
export async function waitForExit (child: ChildProcess, timeoutMs: number): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode }
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`process ${child.pid ?? '?'} still running after ${timeoutMs} ms`)) }, timeoutMs)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal })
    })
  })
}

/** Everything a child writes to stdout and stderr, collected as text (read it after the child exits). */
export function collectOutput (child: ChildProcess): { stdout: () => string, stderr: () => string } {
  let out = ''
  let err = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { err += chunk })
  return { stdout: () => out, stderr: () => err }
}

/**
 * Calls `onLine` for each complete line `stream` writes, then `afterChunk` once per chunk read: a
 * test that kills a child on what it reported acts between chunks, never on a half-written line.
 */
export function eachLine (stream: NodeJS.ReadableStream, onLine: (line: string) => void, afterChunk: () => void = () => {}): void {
  let buffered = ''
  stream.on('data', (chunk: Buffer | string) => {
    buffered += chunk.toString()
    let nl
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      onLine(line)
    }
    afterChunk()
  })
}

