import { fstatSync, write } from 'node:fs'
import type { Writable } from 'node:stream'

/**
 * Bytes of log lines a sink holds while its reader is slow. Past it lines are dropped (and counted):
 * a log reader that stopped reading must cost the node neither memory nor its event loop.
 */
export const LOG_BUFFER_BYTES = 4 * 1024 * 1024

/**
 * Where a node's log lines go: a file descriptor (stdout) written without ever blocking the event
 * loop. A pipe or socket (stdout or stderr) is written through the process's own stream for it, which
 * libuv keeps non-blocking; a regular file or a terminal with one asynchronous write at a time (the
 * descriptor is never closed: a closed fd 1 could be reused by a data file). A reader that went away (EPIPE, ECONNRESET, EBADF)
 * turns the sink off: later lines are dropped, never an exception and never a retry loop. A reader
 * that is slow keeps at most LOG_BUFFER_BYTES waiting, and a line over that is dropped.
 *
 * pino writes to it like to any stream (`write(string)`); `flush(ms)` waits, bounded, for what is
 * queued, so a stopping node can log its last lines without hanging on a reader that never reads.
 */
export class LogSink {
  readonly #fd: number
  readonly #limit: number
  readonly #socket: Writable | undefined
  /** Chunks waiting for the file write in flight (regular files and terminals). */
  readonly #queue: Buffer[] = []
  #queued = 0
  #writing = false
  #dead = false
  #dropped = 0
  readonly #idle = new Set<() => void>()

  constructor (fd: number, limit = LOG_BUFFER_BYTES) {
    this.#fd = fd
    this.#limit = limit
    let stream = false
    try {
      const stat = fstatSync(fd)
      stream = stat.isFIFO() || stat.isSocket()
    } catch {
      this.#dead = true
    }
    if (stream && (fd === 1 || fd === 2)) {
      // A full pipe then queues in this process (bounded by #limit), never stalls it.
      this.#socket = fd === 1 ? process.stdout : process.stderr
      this.#socket.on('error', () => { this.#die() })
      this.#socket.on('drain', () => { this.#notifyIdle() })
    }
  }

  /** Lines dropped so far: the reader was gone or too slow. */
  get dropped (): number {
    return this.#dropped
  }

  /** True once the reader went away: nothing more is written. */
  get closed (): boolean {
    return this.#dead
  }

  /** Queue one chunk (pino calls this once per line). Never throws, never blocks. */
  write (chunk: string | Uint8Array): boolean {
    if (this.#dead) { this.#dropped++; return true }
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk)
    if (this.#pending() + bytes.length > this.#limit) { this.#dropped++; return true }
    if (this.#socket !== undefined) {
      this.#socket.write(bytes)
      return true
    }
    this.#queue.push(bytes)
    this.#queued += bytes.length
    this.#pump()
    return true
  }

  /** Resolves once every queued byte is written, the reader went away, or `ms` passed, whichever is first. */
  async flush (ms: number): Promise<void> {
    if (this.#pending() === 0 || this.#dead) return
    await new Promise<void>((resolve) => {
      const done = (): void => { clearTimeout(timer); this.#idle.delete(done); resolve() }
      const timer = setTimeout(done, ms)
      timer.unref()
      this.#idle.add(done)
    })
  }

  #pending (): number {
    return this.#socket === undefined ? this.#queued : this.#socket.writableLength
  }

  #pump (): void {
    if (this.#writing || this.#dead) return
    const next = this.#queue.length === 1 ? this.#queue[0]! : Buffer.concat(this.#queue)
    if (next.length === 0) { this.#notifyIdle(); return }
    this.#queue.length = 0
    this.#writing = true
    write(this.#fd, next, 0, next.length, null, (err, written) => {
      this.#writing = false
      if (err !== null) {
        if (err.code === 'EAGAIN') this.#queue.unshift(next)
        else { this.#die(); return }
      } else if (written < next.length) {
        this.#queue.unshift(next.subarray(written))
      }
      this.#queued = this.#queue.reduce((n, b) => n + b.length, 0)
      if (this.#queued === 0) { this.#notifyIdle(); return }
      // EAGAIN (a non-blocking terminal or file someone shares): try again shortly, not in a busy loop.
      if (err !== null) setTimeout(() => this.#pump(), 50).unref()
      else this.#pump()
    })
  }

  #die (): void {
    if (this.#dead) return
    this.#dead = true
    this.#queue.length = 0
    this.#queued = 0
    this.#notifyIdle()
  }

  #notifyIdle (): void {
    for (const done of [...this.#idle]) done()
  }
}

/**
 * Keep the process's own stdout and stderr streams from killing or stalling it when their reader
 * went away: a write error (EPIPE) on them is ignored instead of thrown as an uncaught exception.
 */
export function ignoreClosedStdio (): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listenerCount('error') === 0) stream.on('error', () => {})
  }
}

let stdout: LogSink | undefined

/** The process's one sink on stdout (every logger of the process shares it). */
export function stdoutSink (): LogSink {
  stdout ??= new LogSink(1)
  return stdout
}
