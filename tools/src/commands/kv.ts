import { readFile } from 'node:fs/promises'
import { type Command, Option } from 'commander'
import { CliFailure } from '../cli-kit/failure.js'
import { Output } from '../cli-kit/output.js'
import { clientCommand, withNode, type ClientFlags } from './cluster/client-flags.js'
import { parseProblem, type NodeClient, type RawAnswer } from './cluster/node-client.js'

/** Exit code of get and del when the key holds no value: scripts tell "absent" from "failed" (1) and "misused" (2). */
export const EXIT_NOT_FOUND = 3

interface KvFlags extends ClientFlags { r?: string, w?: string, dw?: string, context?: string, blind?: boolean }
interface PutFlags extends KvFlags { file?: string, contentType: string }

/** One version of a key as GET answers it in JSON (openapi `VersionedObject`). */
interface Sibling { value: string, contentType: string, lastModified: string }
interface VersionedObject { context: string, siblings: Sibling[] }

/** What a read found: the versions and the context to write back, or nothing (with the delete's context when there was one). */
interface ReadResult { found: boolean, object?: VersionedObject, context?: string }

const quorumOption = (name: string, what: string): Option => new Option(`--${name} <q>`, `${what}: a count, one, quorum or all (the node's default otherwise)`)

/**
 * Register `levelring get|put|del KEY --node URL`: a client of a running cluster. Contexts are handled
 * for the user: put and del read the key first and write with its causal context, so they replace
 * what was there (`--context` names one; `--blind` writes without, leaving a sibling). get prints the
 * value, or every sibling when writers raced; a key that holds no value exits EXIT_NOT_FOUND.
 */
export function registerKv (program: Command): void {
  clientCommand(program, 'get', 'read a key from a running cluster: its value, or every sibling when there are several')
    .argument('<key>', 'the key (any UTF-8, sent URL-encoded)')
    .addOption(quorumOption('r', 'replicas that must answer'))
    .action(async (key: string, flags: KvFlags) => {
      await withNode(flags, async (client) => {
        const read = await readKey(client, key, flags.r)
        const out = new Output()
        if (!read.found) {
          if (flags.json === true) await out.json({ key, found: false, context: read.context ?? null })
          throw new CliFailure(`key ${JSON.stringify(key)} not found on ${client.url}`, { code: 'LEVELRING_NOT_FOUND', exitCode: EXIT_NOT_FOUND })
        }
        const object = read.object!
        if (flags.json === true) { await out.json({ key, found: true, ...object }); return }
        if (object.siblings.length === 1) { process.stdout.write(Buffer.from(object.siblings[0]!.value, 'base64')); return }
        await out.lines([
          `${object.siblings.length} siblings (concurrent writes); write one value back with \`levelring put\` to resolve them:`,
          ...object.siblings.flatMap((s, i) => [`--- sibling ${i + 1} (${s.contentType}, ${s.lastModified})`, printable(Buffer.from(s.value, 'base64'))])
        ])
      })
    })

  clientCommand(program, 'put', 'write a key on a running cluster, replacing the versions it holds (read first for their context)')
    .argument('<key>', 'the key')
    .argument('[value]', 'the value (or --file, or standard input)')
    .option('--file <path>', 'read the value from this file ("-": standard input)')
    .option('--content-type <type>', 'the value\'s Content-Type', 'application/octet-stream')
    .addOption(quorumOption('w', 'replicas that must acknowledge'))
    .addOption(quorumOption('dw', 'replicas that must fsync before acknowledging'))
    .option('--context <token>', 'write with this causal context (from an earlier get --json) instead of reading one now')
    .option('--blind', 'write without a context: the value becomes a sibling of what the key holds')
    .action(async (key: string, value: string | undefined, flags: PutFlags) => {
      const body = value !== undefined ? Buffer.from(value, 'utf8') : await readValue(flags.file)
      await withNode(flags, async (client) => {
        const context = await writeContext(client, key, flags)
        const answer = await client.raw('PUT', kvPath(key, { w: flags.w, dw: flags.dw }), {
          'content-type': flags.contentType, ...(context === undefined ? {} : { 'x-causal-context': context })
        }, body)
        expectStatus(client, `PUT ${key}`, answer, [204, 200])
        const out = new Output()
        const newContext = header(answer, 'x-causal-context')
        if (flags.json === true) await out.json({ key, status: answer.status, context: newContext ?? null, bytes: body.length })
        else if (process.stdout.isTTY === true) await out.lines([`put ${key}: ${body.length} bytes`])
      })
    })

  clientCommand(program, 'del', 'delete a key on a running cluster (read first for its context)')
    .argument('<key>', 'the key')
    .addOption(quorumOption('w', 'replicas that must acknowledge'))
    .addOption(quorumOption('dw', 'replicas that must fsync before acknowledging'))
    .option('--context <token>', 'delete with this causal context instead of reading one now')
    .action(async (key: string, flags: KvFlags) => {
      await withNode(flags, async (client) => {
        let context = flags.context
        if (context === undefined) {
          const read = await readKey(client, key, undefined)
          if (!read.found) throw new CliFailure(`key ${JSON.stringify(key)} not found on ${client.url}; nothing to delete`, { code: 'LEVELRING_NOT_FOUND', exitCode: EXIT_NOT_FOUND })
          context = read.context
        }
        const answer = await client.raw('DELETE', kvPath(key, { w: flags.w, dw: flags.dw }), context === undefined ? {} : { 'x-causal-context': context })
        expectStatus(client, `DELETE ${key}`, answer, [204])
        if (flags.json === true) await new Output().json({ key, status: answer.status, context: header(answer, 'x-causal-context') ?? null })
      })
    })
}

/** GET the key in its JSON form: every sibling and the context. */
async function readKey (client: NodeClient, key: string, r: string | undefined): Promise<ReadResult> {
  const answer = await client.raw('GET', kvPath(key, { r }), { accept: 'application/json' })
  if (answer.status === 404) return { found: false, context: header(answer, 'x-causal-context') }
  expectStatus(client, `GET ${key}`, answer, [200, 300])
  const object = JSON.parse(answer.body.toString('utf8')) as VersionedObject
  return { found: true, object, context: object.context }
}

/** The context a put writes with: --context, none for --blind, else the one a read answers now (none for an absent key). */
async function writeContext (client: NodeClient, key: string, flags: KvFlags): Promise<string | undefined> {
  if (flags.context !== undefined && flags.blind === true) throw new CliFailure('--context and --blind contradict each other; give one', { code: 'LEVELRING_USAGE', exitCode: 2 })
  if (flags.context !== undefined) return flags.context
  if (flags.blind === true) return undefined
  return (await readKey(client, key, undefined)).context
}

async function readValue (file: string | undefined): Promise<Buffer> {
  if (file === undefined || file === '-') {
    if (file === undefined && process.stdin.isTTY === true) throw new CliFailure('give the value as an argument, --file PATH, or on standard input', { code: 'LEVELRING_USAGE', exitCode: 2 })
    const chunks: Buffer[] = []
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks)
  }
  try {
    return await readFile(file)
  } catch (err) {
    throw new CliFailure(`--file ${file}: cannot read it: ${(err as Error).message}`, { code: 'LEVELRING_BAD_ARGUMENT' })
  }
}

/** /v1/kv/{key} with the quorum parameters given. */
export function kvPath (key: string, params: Record<string, string | undefined>): string {
  const query = Object.entries(params).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${encodeURIComponent(v!)}`)
  return `/v1/kv/${encodeURIComponent(key)}${query.length === 0 ? '' : `?${query.join('&')}`}`
}

function header (answer: RawAnswer, name: string): string | undefined {
  const v = answer.headers[name]
  return Array.isArray(v) ? v[0] : v
}

function expectStatus (client: NodeClient, what: string, answer: RawAnswer, ok: readonly number[]): void {
  if (ok.includes(answer.status)) return
  const p = parseProblem(answer.body)
  throw new CliFailure(`node ${client.url}: ${what} answered ${answer.status}${p?.title === undefined ? '' : ` ${p.title}`}${p?.detail === undefined ? '' : `: ${p.detail}`}`,
    { code: 'LEVELRING_NODE_ERROR' })
}

/** A sibling's bytes as text when they are UTF-8 without control characters, else base64 (so a terminal shows what it is). */
function printable (bytes: Buffer): string {
  const text = bytes.toString('utf8')
  // eslint-disable-next-line no-control-regex
  return Buffer.from(text, 'utf8').equals(bytes) && !/[\u0000-\u0008\u000e-\u001f]/.test(text) ? text : `base64:${bytes.toString('base64')}`
}
