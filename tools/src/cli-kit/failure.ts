/**
 * How the CLI reports failure: one line on stderr and a non-zero exit, never a stack trace for a problem
 * the operator can act on (a missing file, a damaged block, a locked database, an unreachable node).
 */

/** An expected failure of a command: its message is the whole story (what failed, where, what to do). */
export class CliFailure extends Error {
  readonly code: string | undefined
  /** The process exit code (1 unless a command documents another). */
  readonly exitCode: number

  constructor (message: string, options: { code?: string, exitCode?: number } = {}) {
    super(message)
    this.name = 'CliFailure'
    this.code = options.code
    this.exitCode = options.exitCode ?? 1
  }
}

/** What the OS error codes we expect from file access mean, in the words an operator would use. */
const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory (a file was expected)',
  ENOTDIR: 'not a directory',
  ENOSPC: 'no space left on device',
  EIO: 'input/output error',
  EMFILE: 'too many open files'
}

/** Set LEVELRING_DEBUG=1 to see the stack of an unexpected error. */
const DEBUG = process.env.LEVELRING_DEBUG === '1'

/**
 * The one line that describes err for an operator. Engine errors (ModuleError with a LEVEL_* code) already
 * name the file and offset; abstract-level's "failed to open" wrapper is unwrapped to the cause behind it.
 */
export function describeFailure (err: unknown): string {
  const e = unwrapOpenFailure(err) as (Error & { code?: unknown, path?: unknown, syscall?: unknown }) | undefined
  if (e === undefined || e === null || typeof e !== 'object') return `unexpected failure: ${String(err)}`
  const message = oneLine(e.message)
  if (e instanceof CliFailure) return e.code === undefined ? message : `${e.code}: ${message}`
  if (typeof e.code === 'string' && typeof e.syscall === 'string') {
    const what = ERRNO_TEXT[e.code] ?? message
    return `${typeof e.path === 'string' ? e.path + ': ' : ''}${what} (${e.code})`
  }
  if (typeof e.code === 'string' && /^(LEVEL|LEVELRING)_/.test(e.code)) return `${e.code}: ${message}`
  return `unexpected error: ${message}${DEBUG ? '\n' + String(e.stack) : ' (run with LEVELRING_DEBUG=1 to see where)'}`
}

/** abstract-level reports every open failure as LEVEL_DATABASE_NOT_OPEN with the real error as its cause. */
function unwrapOpenFailure (err: unknown): unknown {
  let e = err as { code?: unknown, cause?: unknown } | undefined
  for (let depth = 0; depth < 4 && e?.code === 'LEVEL_DATABASE_NOT_OPEN' && e.cause !== undefined; depth++) {
    e = e.cause as typeof e
  }
  return e
}

function oneLine (text: string): string {
  return text.replace(/\s*\n\s*/g, '; ')
}
