import { type Command, InvalidArgumentError, Option } from 'commander'
import { BYTE_ENCODINGS, type ByteEncoding } from './byte-encoding.js'

/** Flags most inspection commands share. */
export interface CommonFlags { json?: boolean, progress?: boolean, encoding: ByteEncoding }

/** `--json`: one JSON document on stdout instead of text. */
export function withJson (cmd: Command): Command {
  return cmd.option('--json', 'print one JSON document instead of text (for scripts)')
}

/** `--no-progress`: no bar even on a terminal. */
export function withProgress (cmd: Command): Command {
  return cmd.option('--no-progress', 'never draw a progress bar (it is drawn only on a terminal, never with --json)')
}

/** `--encoding utf8|hex`: how keys and values are typed and shown. */
export function withEncoding (cmd: Command): Command {
  return cmd.addOption(new Option('--encoding <enc>', 'keys and values as utf8 text or hex').choices(BYTE_ENCODINGS).default('utf8'))
}

/** `--from`, `--to`, `--prefix`, `--limit`: which entries a scan shows. */
export function withKeyRange (cmd: Command): Command {
  return cmd
    .option('--from <key>', 'first key (inclusive)')
    .option('--to <key>', 'end key (exclusive)')
    .option('--prefix <bytes>', 'only keys starting with these bytes')
    .option('--limit <n>', 'at most n entries', positiveInteger)
}

/** A commander argument parser for a positive integer (commander names the option in its error). */
export function positiveInteger (text: string): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('not a positive integer')
  return n
}
