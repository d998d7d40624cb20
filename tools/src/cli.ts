import { readFileSync } from 'node:fs'
import { Command, CommanderError } from 'commander'
import { CliFailure, describeFailure } from './cli-kit/failure.js'

/** Adds one subcommand (or group of subcommands) to the program. */
type Register = (program: Command) => void

/** A module of subcommands: the names it registers, and a loader for its register function. */
interface Subcommands { readonly names: readonly string[], readonly load: () => Promise<Register> }

/**
 * Every subcommand of `levelring`. Each module exports `register(program)`; add yours to this list
 * (one line) and keep the subcommand's code beside the component it drives. Every module is loaded on
 * demand: a command loads only its own (`start` pulls in the whole gateway, the tools pull in the
 * engine and an HTTP client), and tests start a node hundreds of times. The names must be the ones
 * the module registers: buildProgram checks it whenever it loads them all.
 */
const SUBCOMMANDS: readonly Subcommands[] = [
  { names: ['start'], load: async () => (await import('../../gateway/src/node/start-command.js')).registerStart },
  { names: ['config'], load: async () => (await import('./commands/config.js')).registerConfig },
  { names: ['sst'], load: async () => (await import('./commands/sst.js')).registerSst },
  { names: ['wal'], load: async () => (await import('./commands/wal.js')).registerWal },
  { names: ['manifest'], load: async () => (await import('./commands/manifest.js')).registerManifest },
  { names: ['db'], load: async () => (await import('./commands/db.js')).registerDb },
  { names: ['status', 'members', 'ring', 'placement', 'repair', 'join', 'leave', 'remove', 'replace'], load: async () => (await import('./commands/cluster.js')).registerCluster },
  { names: ['certs'], load: async () => (await import('./commands/certs.js')).registerCerts },
  { names: ['get', 'put', 'del'], load: async () => (await import('./commands/kv.js')).registerKv },
  { names: ['backup', 'export', 'import'], load: async () => (await import('./commands/backup.js')).registerBackup }
]

/**
 * The `levelring` program. Given `argv`, only the module of the subcommand it names is registered (the
 * others are not even loaded); without, or when argv names none (`levelring --help`), all of them.
 */
export async function buildProgram (argv?: readonly string[]): Promise<Command> {
  const program = new Command('levelring')
    .description('levelring: a Dynamo-style key-value store on the lsm-level engine')
    .version(packageVersion(), '-V, --version', 'print the version of levelring')
    .showHelpAfterError()
    // A usage mistake exits EXIT_USAGE (commander has printed what it was), not 1: see main().
    .exitOverride()
  const named = argv?.slice(2).find((a) => !a.startsWith('-'))
  const only = SUBCOMMANDS.find((s) => named !== undefined && s.names.includes(named))
  const modules = only === undefined ? SUBCOMMANDS : [only]
  const registers = await Promise.all(modules.map(async (s) => await s.load()))
  for (const register of registers) register(program)
  if (only === undefined) {
    // A name missing here would leave its command to this slower path; a name too many, unknown.
    const declared = SUBCOMMANDS.flatMap((s) => s.names).join(' ')
    const registered = program.commands.map((c) => c.name()).join(' ')
    if (declared !== registered) throw new Error(`levelring: the subcommand list (${declared}) differs from what the modules register (${registered})`)
  }
  return program
}

/** Exit code of a usage mistake (unknown command or option, bad option value): 2, as for most Unix tools. */
export const EXIT_USAGE = 2

/** The version in package.json (two levels above dist/tools/src: the package root, in a clone and in the image). */
function packageVersion (): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version
  } catch {
    return 'unknown'
  }
}

/**
 * Run the program on `argv` (process.argv by default). A failed command prints one line (what failed,
 * the file and offset or node, what to do) and sets a non-zero exit code; no stack trace for expected failures.
 */
export async function main (argv: readonly string[] = process.argv): Promise<void> {
  // A reader that goes away (`levelring sst scan f | head`) ends the output, not in an error. Not for
  // `start`: a node whose log reader went away keeps serving, and stops only by a signal, cleanly.
  if (argv.slice(2).find((a) => !a.startsWith('-')) !== 'start') {
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
      throw err
    })
  }
  try {
    await (await buildProgram(argv)).parseAsync([...argv])
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version end in a CommanderError too, with exit code 0.
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE
      return
    }
    process.stderr.write(`levelring: ${describeFailure(err)}\n`)
    process.exitCode = err instanceof CliFailure ? err.exitCode : 1
  }
}
