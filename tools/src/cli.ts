import { Command } from 'commander'
import { registerStart } from '../../gateway/src/cli/start.js'

/**
 * Every subcommand of `levelring`. Each module exports `register(program)`; add yours to this list
 * (one line) and keep the subcommand's code beside the component it drives.
 */
const SUBCOMMANDS: ReadonlyArray<(program: Command) => void> = [
  registerStart
]

/** The `levelring` program with every subcommand registered. */
export function buildProgram (): Command {
  const program = new Command('levelring')
    .description('levelring: a Dynamo-style key-value store on the lsm-level engine')
    .showHelpAfterError()
  for (const register of SUBCOMMANDS) register(program)
  return program
}

/** Run the program on `argv` (process.argv by default); exits non-zero on a failed command. */
export async function main (argv: readonly string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv])
  } catch (err) {
    const e = err as Error & { code?: string }
    process.stderr.write(`levelring: ${e.code === undefined ? '' : e.code + ': '}${e.message}\n`)
    process.exitCode = 1
  }
}
