import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, type AddressInfo } from 'node:net'
import { createInterface } from 'node:readline'

// The server processes of the HTTP benchmarks (levelring nodes, the Map ceiling): each is a child
// that announces the address it listens on in a JSON line on stdout, and stops on SIGTERM.

/** Children started by one benchmark run; stopAll() ends them all. */
export class ServerProcesses {
  readonly #children: ChildProcess[] = []
  readonly #pids = new Map<string, number>()
  readonly #byAddress = new Map<string, ChildProcess>()

  /** The process id of the child that announced `address`. */
  pid (address: string): number | undefined {
    return this.#pids.get(address)
  }

  /**
   * Start `node args...` and resolve with the address it announces: the first JSON line with an
   * `address` that is either bare (the ceiling) or a levelring "listening" line, with `env` (this
   * process's by default). Rejects if it exits first.
   */
  start (args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env })
    this.#children.push(child)
    return new Promise((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        try {
          const entry = JSON.parse(line) as { address?: string, msg?: string }
          if (entry.address !== undefined && (entry.msg === undefined || entry.msg.includes('listening'))) {
            if (child.pid !== undefined) this.#pids.set(entry.address, child.pid)
            this.#byAddress.set(entry.address, child)
            resolve(entry.address)
          }
        } catch { /* not a JSON line */ }
      })
      child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited ${String(code)}`)))
    })
  }

  /** SIGTERM the child that announced `address` and wait until it has exited (its address may then be started again). */
  async stop (address: string): Promise<void> {
    const child = this.#byAddress.get(address)
    if (child === undefined) throw new Error(`no server started at ${address}`)
    this.#byAddress.delete(address)
    this.#pids.delete(address)
    const exited = new Promise((resolve) => { if (child.exitCode !== null || child.signalCode !== null) resolve(null); else child.on('exit', resolve) })
    child.kill('SIGTERM')
    await exited
  }

  /** SIGTERM every child and wait until all have exited. */
  async stopAll (): Promise<void> {
    for (const child of this.#children) child.kill('SIGTERM')
    await Promise.all(this.#children.map((c) => new Promise((resolve) => { if (c.exitCode !== null || c.signalCode !== null) resolve(null); else c.on('exit', resolve) })))
  }
}

/** `count` distinct loopback ports that were free a moment ago (for nodes that must know each other's address up front). */
export async function freePorts (count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve(server))
  })))
  const ports = servers.map((s) => (s.address() as AddressInfo).port)
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
  return ports
}
