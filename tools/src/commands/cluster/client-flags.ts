import { readFile } from 'node:fs/promises'
import { type Command, Option } from 'commander'
import { parseTokenFile } from '../../../../gateway/src/node/token-file.js'
import { positiveInteger } from '../../cli-kit/common-options.js'
import { CliFailure } from '../../cli-kit/failure.js'
import { NodeClient, type NodeTarget } from './node-client.js'

/** The flags every command that talks to a running node takes. */
export interface ClientFlags { node: string, tokenFile?: string, token?: string, ca?: string, timeout: number, json?: boolean }

/** Where a node is when --node is not given: the first node of `npm start`'s local cluster (over https with --ca). */
export const DEFAULT_NODE = '127.0.0.1:7001'

/**
 * Adds --node (LEVELRING_NODE), --token-file (LEVELRING_TOKEN_FILE), --ca (LEVELRING_CA), --timeout and --json. The client
 * token comes from a file or the LEVELRING_TOKEN variable, never from the command line, where every
 * user of the machine could read it in the process list; `--token` is refused saying so.
 */
export function clientCommand (program: Command, name: string, description: string): Command {
  return program.command(name)
    .description(description)
    .addOption(new Option('--node <url>', 'the node to ask: URL or host:port').env('LEVELRING_NODE').default(DEFAULT_NODE))
    .addOption(new Option('--token-file <file>', 'file holding the client bearer token on its first line, when the node runs with --auth-token-file (or set LEVELRING_TOKEN)').env('LEVELRING_TOKEN_FILE'))
    .addOption(new Option('--token <token>').hideHelp())
    .addOption(new Option('--ca <file>', 'PEM CA that signed the node\'s TLS certificate (its --tls-ca): talk https, a bare host:port included').env('LEVELRING_CA'))
    .addOption(new Option('--timeout <ms>', 'milliseconds to wait for the node').default(5000).argParser(positiveInteger))
    .option('--json', 'print what the node answered as one JSON document')
}

/** The client token: the first token of --token-file, else LEVELRING_TOKEN; a usage failure (exit 2) for --token. */
export async function clientToken (flags: ClientFlags): Promise<string | undefined> {
  if (flags.token !== undefined) {
    throw new CliFailure('--token is not accepted: a token on the command line is visible to every user in the process list; ' +
      'write it to a file and pass --token-file FILE, or set LEVELRING_TOKEN', { code: 'LEVELRING_USAGE', exitCode: 2 })
  }
  if (flags.tokenFile !== undefined && flags.tokenFile !== '') return await readTokenFile('--token-file', flags.tokenFile)
  const env = process.env.LEVELRING_TOKEN
  return env === undefined || env === '' ? undefined : env
}

/** The first token of a token file (node/token-file.ts's format); a CliFailure naming `flag` when it is unreadable or empty. */
export async function readTokenFile (flag: string, path: string): Promise<string> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new CliFailure(`${flag} ${path}: cannot read it: ${(err as Error).message}`, { code: 'LEVELRING_BAD_ARGUMENT' })
  }
  const token = parseTokenFile(text)[0]
  if (token === undefined) throw new CliFailure(`${flag} ${path} holds no token; write the token on its first line`, { code: 'LEVELRING_BAD_ARGUMENT' })
  return token
}

/** Runs fn with a client for the node the flags name, closing it afterwards; `target` overrides what the flags say. */
export async function withNode<T> (flags: ClientFlags, fn: (client: NodeClient) => Promise<T>, target: Partial<NodeTarget> = {}): Promise<T> {
  const token = 'token' in target ? target.token : await clientToken(flags)
  const ca = flags.ca === undefined || flags.ca === '' ? undefined : await readCa(flags.ca)
  const client = new NodeClient({ url: flags.node, timeoutMs: flags.timeout, ca, ...target, token })
  try {
    return await fn(client)
  } finally {
    await client.close()
  }
}

/** A client command that needs the operator credential too: adds --admin-token-file (LEVELRING_ADMIN_TOKEN_FILE). */
export function adminClientCommand (program: Command, name: string, description: string): Command {
  return clientCommand(program, name, description)
    .addOption(new Option('--admin-token-file <file>', 'file holding an admin token of the node (its --admin-token-file) on its first line; ' +
      'needed unless the node runs without admin tokens and this command runs on its machine').env('LEVELRING_ADMIN_TOKEN_FILE'))
}

/** The token an admin call sends: the admin token file's, else the client token (a node without admin tokens answers its loopback callers with the client check alone). */
export async function adminToken (flags: ClientFlags & { adminTokenFile?: string }): Promise<string | undefined> {
  return flags.adminTokenFile === undefined || flags.adminTokenFile === '' ? await clientToken(flags) : await readTokenFile('--admin-token-file', flags.adminTokenFile)
}

/** The PEM of --ca; unreadable or not PEM is a CliFailure. */
async function readCa (path: string): Promise<Buffer> {
  let pem: Buffer
  try {
    pem = await readFile(path)
  } catch (err) {
    throw new CliFailure(`--ca ${path}: cannot read it: ${(err as Error).message}`, { code: 'LEVELRING_BAD_ARGUMENT' })
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new CliFailure(`--ca ${path} holds no PEM certificate`, { code: 'LEVELRING_BAD_ARGUMENT' })
  return pem
}
