import cliProgress from 'cli-progress'
import { humanSize } from './human-size.js'

/** The options every long-running command takes that decide whether a bar is drawn. */
export interface ProgressFlags { json?: boolean, progress?: boolean }

/**
 * A bar is drawn only for a person watching: stderr is a terminal, the output is not JSON, --no-progress
 * was not given, and (for commands whose results stream to stdout) stdout is not that same terminal.
 */
export function progressWanted (flags: ProgressFlags, resultsStreamToStdout = false): boolean {
  if (process.stderr.isTTY !== true || flags.json === true || flags.progress === false) return false
  return !(resultsStreamToStdout && process.stdout.isTTY === true)
}

/** How often synchronous work yields so the bar's timer can redraw it: about a frame at 20 fps. */
const BREATHE_MS = 50

/** A progress bar on stderr (cli-progress), or nothing at all when not wanted. */
export class Progress {
  readonly #bar: cliProgress.SingleBar | null
  readonly #unit: 'bytes' | 'items'
  readonly #total: number
  #value = 0
  #lastBreath = Date.now()

  private constructor (bar: cliProgress.SingleBar | null, total: number, unit: 'bytes' | 'items') {
    this.#bar = bar
    this.#total = total
    this.#unit = unit
  }

  /** Starts a bar over `total` units (bytes are shown in KiB/MiB); a no-op object when !enabled. */
  static start (enabled: boolean, label: string, total: number, unit: 'bytes' | 'items' = 'items'): Progress {
    if (!enabled) return new Progress(null, total, unit)
    const bar = new cliProgress.SingleBar({
      format: `${label} |{bar}| {percentage}% {done}/{all} eta {eta_formatted}`,
      stream: process.stderr,
      // A hidden cursor would stay hidden if the command is interrupted (Ctrl-C) mid-bar.
      hideCursor: false,
      clearOnComplete: true
    }, cliProgress.Presets.shades_classic)
    const p = new Progress(bar, total, unit)
    bar.start(total, 0, p.#payload())
    return p
  }

  /** Adds n units done. */
  advance (n = 1): void {
    // Totals can be estimates (a scan's bytes on disk): the bar stops at full.
    this.#value = Math.min(this.#total, this.#value + n)
    this.#bar?.update(this.#value, this.#payload())
  }

  /** Sets the units done (for work whose progress is read from a counter). */
  set (value: number): void {
    this.advance(value - this.#value)
  }

  /**
   * Lets the event loop run (so the bar redraws) if a frame's time has passed since the last breath.
   * Free when no bar is drawn: inspection loops are synchronous and stay so when piped.
   */
  async breathe (): Promise<void> {
    if (this.#bar === null || Date.now() - this.#lastBreath < BREATHE_MS) return
    await new Promise<void>((resolve) => setImmediate(resolve))
    this.#lastBreath = Date.now()
  }

  /** Removes the bar from the terminal. */
  stop (): void {
    this.#bar?.stop()
  }

  #payload (): { done: string, all: string } {
    const f = (n: number): string => this.#unit === 'bytes' ? humanSize(n) : String(n)
    return { done: f(this.#value), all: f(this.#total) }
  }
}
