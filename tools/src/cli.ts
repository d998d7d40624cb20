import { Command } from 'commander'
import { registerStart } from '../../gateway/src/cli/start.js'
import { CliFailure, describeFailure } from './cli-kit/failure.js'
import { registerManifest } from './commands/manifest.js'
import { registerSst } from './commands/sst.js'
import { registerWal } from './commands/wal.js'

/**
 * Every subcommand of `levelring`. Each module exports `register(program)`; add yours to this list
 * (one line) and keep the subcommand's code beside the component it drives.
 */
const SUBCOMMANDS: ReadonlyArray<(program: Command) => void> = [
  registerStart,
  registerSst,
  registerWal,
  registerManifest
]

/** The `levelring` program with every subcommand registered. */
export function buildProgram (): Command {
  const program = new Command('levelring')
    .description('levelring: a Dynamo-style key-value store on the lsm-level engine')
    .showHelpAfterError()
  for (const register of SUBCOMMANDS) register(program)
  return program
}

/**
 * Run the program on `argv` (process.argv by default). A failed command prints one line (what failed,
 * the file and offset or node, what to do) and sets a non-zero exit code; no stack trace for expected failures.
 */
export async function main (argv: readonly string[] = process.argv): Promise<void> {
  // A reader that goes away (`levelring sst scan f | head`) ends the output, not in an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw err
  })
  try {
    await buildProgram().parseAsync([...argv])
  } catch (err) {
    process.stderr.write(`levelring: ${describeFailure(err)}\n`)
    process.exitCode = err instanceof CliFailure ? err.exitCode : 1
  }
}
