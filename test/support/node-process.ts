// One node as its own `levelring start` process (the built dist/: npm test builds first).
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { waitForExit } from './process.js'

const BIN = fileURLToPath(new URL('../../bin/levelring.js', import.meta.url))

/** A started node process: its URL once it logged "listening", and every JSON log line so far. */
export interface NodeProcess {
  readonly child: ChildProcess
  readonly url: string
  readonly lines: Array<Record<string, any>>
  /** SIGTERM, then SIGKILL if it has not exited within 10 s. */
  stop (): Promise<void>
}

/**
 * Start `levelring start --listen 127.0.0.1:0 ...args` (a later --listen in args wins) and resolve once it
 * logs that it listens (so not with --log-level above info); rejects with its stderr if it exits first.
 */
export async function startNodeProcess (args: readonly string[]): Promise<NodeProcess> {
  const child = spawn(process.execPath, [BIN, 'start', '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: Array<Record<string, any>> = []
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, any>
      lines.push(entry)
      if (typeof entry.address === 'string' && /listening/.test(String(entry.msg))) resolve(`http://${entry.address}`)
    })
    let err = ''
    child.stderr!.on('data', (d) => { err += String(d) })
    child.on('exit', (code) => reject(new Error(`levelring start exited ${String(code)}: ${err}`)))
  })
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    await waitForExit(child, 10_000).catch(() => { child.kill('SIGKILL') })
  }
  return { child, url, lines, stop }
}
