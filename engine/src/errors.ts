import ModuleError from 'module-error'

/** Where a corruption was found: the file and the byte offset in it. */
export interface CorruptionSite {
  file: string
  offset: number
  cause?: unknown
}

/** A ModuleError that also says which file and offset it is about (for tools and tests). */
export interface LocatedError extends ModuleError {
  file?: string
  offset?: number
  op?: string
  /** The operating system's error code behind an I/O error (ENOSPC, EIO, ...). */
  syscallCode?: string
}

function asError (cause: unknown): Error | undefined {
  if (cause === undefined) return undefined
  return cause instanceof Error ? cause : new Error(String(cause))
}

/** Stored bytes are not what was written: names the file and offset; the caller must not return data from there. */
export function corruption (message: string, site: CorruptionSite): LocatedError {
  const err: LocatedError = new ModuleError(
    `${message} (file ${site.file}, offset ${site.offset}); the data there cannot be trusted: restore from a replica or backup, or run a repair to salvage the rest`,
    { code: 'LEVEL_CORRUPTION', cause: asError(site.cause) }
  )
  err.file = site.file
  err.offset = site.offset
  return err
}

/** The OS refused an operation: names the op, the file and the errno code (e.g. ENOSPC). */
export function ioError (cause: unknown, where: { file: string, op: string }): LocatedError {
  const c = asError(cause)
  const errno = (c as NodeJS.ErrnoException | undefined)?.code
  const hint = errno === 'ENOSPC'
    ? 'free disk space and retry'
    : errno === 'EIO'
      ? 'the device reported an I/O error: check the disk'
      : errno !== undefined
        ? 'check the path, permissions and disk'
        // Every file system error carries an errno code: without one, the engine's own code failed.
        : 'the operating system reported no error: this is a fault in lsm-level itself, please report it with this message'
  const err: LocatedError = new ModuleError(
    `${where.op} failed on ${where.file}: ${errno ?? c?.name ?? 'error'} (${c?.message ?? 'unknown'}); ${hint}`,
    { code: 'LEVEL_IO_ERROR', cause: c }
  )
  err.file = where.file
  err.op = where.op
  if (errno !== undefined) err.syscallCode = errno
  return err
}

/** Wraps an error thrown by a FileSystem call as LEVEL_IO_ERROR, passing LEVEL_* errors through unchanged. */
export function asIoError (cause: unknown, where: { file: string, op: string }): Error {
  if (cause instanceof ModuleError && typeof cause.code === 'string' && cause.code.startsWith('LEVEL_')) return cause
  return ioError(cause, where)
}

/** A caller passed a bad argument; `code` says whether it was a key or a value/option. */
export function invalidArgument (message: string, code: 'LEVEL_INVALID_VALUE' | 'LEVEL_INVALID_KEY' = 'LEVEL_INVALID_VALUE'): ModuleError {
  return new ModuleError(message, { code })
}

/** Another holder (this process or another) owns the database directory. */
export function locked (location: string, detail?: string): ModuleError {
  return new ModuleError(
    `database at ${location} is locked by another holder${detail !== undefined ? ` (${detail})` : ''}; close the other instance first`,
    { code: 'LEVEL_LOCKED', expected: true }
  )
}

/** The file was written in a format version this build does not read. */
export function unsupportedFormat (file: string, version: number | string): LocatedError {
  const err: LocatedError = new ModuleError(
    `${file} has format version ${version}, which this version of lsm-level cannot read; upgrade lsm-level or restore a compatible copy`,
    { code: 'LEVEL_UNSUPPORTED_FORMAT' }
  )
  err.file = file
  return err
}

/** An operation stopped by its AbortSignal (abstract-level's AbortError). */
export function aborted (): ModuleError {
  const err = new ModuleError('Operation has been aborted', { code: 'LEVEL_ABORTED' })
  err.name = 'AbortError'
  return err
}

/** The database is not open (not yet, or closed); `detail` says what was refused, e.g. 'closed during compactRange()'. */
export function notOpen (detail?: string): ModuleError {
  return new ModuleError(`Database is not open${detail !== undefined ? `: ${detail}` : ''}`, { code: 'LEVEL_DATABASE_NOT_OPEN' })
}

/** A write to a database opened with readOnly. */
export function readOnly (location: string): ModuleError {
  return new ModuleError(`Database ${location} was opened read-only`, { code: 'LEVEL_READONLY' })
}

/** Opening a database that is not there, with createIfMissing false. */
export function databaseNotFound (location: string): ModuleError {
  return new ModuleError(`Database ${location} does not exist (createIfMissing is false)`, { code: 'LEVEL_DATABASE_NOT_FOUND' })
}

/** Opening a database that is there, with errorIfExists true. */
export function databaseExists (location: string, why = 'errorIfExists is true'): ModuleError {
  return new ModuleError(`Database ${location} already exists (${why})`, { code: 'LEVEL_DATABASE_EXISTS' })
}
