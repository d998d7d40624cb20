import { Command } from 'commander'
import { CliFailure, describeFailure } from './cli-kit/failure.js'
import { registerCerts } from './commands/certs.js'
import { CLUSTER_COMMANDS, registerCluster } from './commands/cluster.js'
import { registerDb } from './commands/db.js'
import { registerManifest } from './commands/manifest.js'
import { registerSst } from './commands/sst.js'
import { registerWal } from './commands/wal.js'

/** Adds one subcommand (or group of subcommands) to the program. */
type Register = (program: Command) => void

/** A module of subcommands: the names it registers, and its register function or a loader for it. */
type Subcommands = { names: readonly string[] } & ({ register: Register } | { load: () => Promise<Register> })

/**
 * Every subcommand of `levelring`. Each module exports `register(program)`; add yours to this list
 * (one line) and keep the subcommand's code beside the component it drives. `start` is loaded on demand:
 * it pulls in the whole gateway (express, pino, ajv: ~150 ms of startup), which the tools never use.
 */
const SUBCOMMANDS: readonly Subcommands[] = [
  { names: ['start'], load: async () => (await import('../../gateway/src/node/start-command.js')).registerStart },
  { names: ['sst'], register: registerSst },
  { names: ['wal'], register: registerWal },
  { names: ['manifest'], register: registerManifest },
  { names: ['db'], register: registerDb },
  { names: CLUSTER_COMMANDS, register: registerCluster },
  { names: ['certs'], register: registerCerts }
]

/**
 * The `levelring` program. Given `argv`, only the module of the subcommand it names is registered (the
 * others are not even loaded); without, or when argv names none (`levelring --help`), all of them.
 */
export async function buildProgram (argv?: readonly string[]): Promise<Command> {
  const program = new Command('levelring')
    .description('levelring: a Dynamo-style key-value store on the lsm-level engine')
    .showHelpAfterError()
  const named = argv?.slice(2).find((a) => !a.startsWith('-'))
  const only = SUBCOMMANDS.find((s) => named !== undefined && s.names.includes(named))
  for (const s of only === undefined ? SUBCOMMANDS : [only]) {
    const register = 'register' in s ? s.register : await s.load()
    register(program)
  }
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
    await (await buildProgram(argv)).parseAsync([...argv])
  } catch (err) {
    process.stderr.write(`levelring: ${describeFailure(err)}\n`)
    process.exitCode = err instanceof CliFailure ? err.exitCode : 1
  }
}
