import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, open, readdir, rm } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { createInterface } from 'node:readline'
import { Readable, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Command } from 'commander'
import { extract } from 'tar-stream'
import { positiveInteger } from '../cli-kit/common-options.js'
import { CliFailure } from '../cli-kit/failure.js'
import { Output } from '../cli-kit/output.js'
import { adminClientCommand, adminToken, clientCommand, withNode, type ClientFlags } from './cluster/client-flags.js'
import { parseProblem, type NodeClient } from './cluster/node-client.js'
import { kvPath } from './kv.js'

/** The dump formats of GET /v1/admin/backup and /export (gateway/src/http/backup-routes.ts). */
const BACKUP_FORMAT = 'levelring-backup'
const EXPORT_FORMAT = 'levelring-export'

/** The backup's last member, beside the engine's files: whose copy, taken when, of how many files (gateway/src/http/backup-routes.ts). */
export const BACKUP_MANIFEST = 'BACKUP.json'

interface AdminFlags extends ClientFlags { adminTokenFile?: string }
interface BackupFlags extends AdminFlags { out: string }
interface ExportFlags extends AdminFlags { out?: string }
interface ImportFlags extends ClientFlags { blind?: boolean, concurrency: number, w?: string }

/** One line of an export (the JSON form of GET /v1/kv/{key} plus the key). */
interface ExportRecord { key: string, context: string, siblings: Array<{ value: string, contentType: string }> }

/**
 * Register `levelring backup --node URL --out DIR` (a consistent copy of the node's engine, taken while
 * it serves, written as a fresh lsm-level directory), `levelring export` (every key the node stores,
 * NDJSON with causal contexts) and `levelring import FILE` (writes an export back through any node).
 */
export function registerBackup (program: Command): void {
  adminClientCommand(program, 'backup', 'copy a running node\'s whole engine, as of one checkpoint, into a new data directory (GET /v1/admin/backup)')
    .requiredOption('--out <dir>', 'the directory to create (must not exist, or be empty)')
    .action(async (flags: BackupFlags) => {
      await assertEmptyDir(flags.out)
      const token = await adminToken(flags)
      await withNode(flags, async (client) => {
        const answer = await client.stream('GET', '/v1/admin/backup', { accept: 'application/x-tar' })
        if (answer.status !== 200) await failWith(client, '/v1/admin/backup', answer)
        let manifest: Record<string, unknown> | undefined
        let files = 0
        try {
          const tar = extract()
          const unpacked = (async () => {
            for await (const entry of tar) {
              const name = entry.header.name
              // Only plain names: a member cannot write outside --out.
              if (name !== basename(name) || name.startsWith('.') || entry.header.type !== 'file') throw new Error(`unexpected member ${JSON.stringify(name)}`)
              if (name === BACKUP_MANIFEST) {
                const chunks: Buffer[] = []
                for await (const c of entry) chunks.push(c as Buffer)
                manifest = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>
                if (manifest.format !== BACKUP_FORMAT) throw new Error(`${BACKUP_MANIFEST} names format ${JSON.stringify(manifest.format)}`)
              } else if (manifest !== undefined) {
                throw new Error(`member ${name} after ${BACKUP_MANIFEST}`)
              }
              const path = join(flags.out, name)
              if (name !== BACKUP_MANIFEST) {
                await pipeline(entry, createWriteStream(path, { mode: 0o600 }))
                files++
              }
              await fsyncFile(path, name === BACKUP_MANIFEST ? `${JSON.stringify(manifest, null, 2)}\n` : undefined)
            }
          })().catch((err: unknown) => { tar.destroy(err as Error); throw err })
          await Promise.all([pipeline(Readable.from(answer.body), tar), unpacked])
          if (manifest === undefined) throw new Error(`no ${BACKUP_MANIFEST} at its end`)
          await fsyncFile(flags.out)
        } catch (err) {
          await rm(flags.out, { recursive: true, force: true })
          throw new CliFailure(`node ${client.url}: the backup stream was cut or damaged after ${files} files (${(err as Error).message}); nothing was kept in ${flags.out}; try again`,
            { code: 'LEVELRING_BACKUP_INCOMPLETE' })
        }
        const report = { ...manifest, from: client.url, out: flags.out }
        const out = new Output()
        if (flags.json === true) await out.json(report)
        else await out.lines([`backup of node ${String(manifest.node)} (${client.url}) as of ${String(manifest.createdAt)}: ${String(manifest.tables)} tables, ${String(manifest.bytes)} bytes in ${flags.out}`])
      }, { token, tokenHint: 'pass --admin-token-file FILE with one of the node\'s admin tokens' })
    })

  adminClientCommand(program, 'export', 'write every key a running node stores, with its siblings and causal context, as NDJSON (GET /v1/admin/export)')
    .option('--out <file>', 'write to this file instead of standard output')
    .action(async (flags: ExportFlags) => {
      const token = await adminToken(flags)
      await withNode(flags, async (client) => {
        const lines = await openDump(client, '/v1/admin/export', EXPORT_FORMAT)
        const sink: Writable = flags.out === undefined ? process.stdout : createWriteStream(flags.out)
        let keys = 0
        let complete = false
        for await (const line of lines) {
          const record = JSON.parse(line) as { end?: boolean, entries?: number }
          if (record.end === true) complete = record.entries === keys
          else if (!('format' in record)) keys++
          if (!sink.write(`${line}\n`)) await new Promise((resolve) => sink.once('drain', resolve))
          if (record.end === true) break
        }
        if (flags.out !== undefined) await new Promise<void>((resolve, reject) => sink.end((err?: Error | null) => { if (err != null) reject(err); else resolve() }))
        if (!complete) throw new CliFailure(`node ${client.url}: the export stream was cut after ${keys} keys; the output is incomplete`, { code: 'LEVELRING_EXPORT_INCOMPLETE' })
        if (flags.out !== undefined) process.stderr.write(`exported ${keys} keys from ${client.url} to ${flags.out}\n`)
      }, { token, tokenHint: 'pass --admin-token-file FILE with one of the node\'s admin tokens' })
    })

  clientCommand(program, 'import', 'write the keys of an export (NDJSON) into a running cluster, each with its causal context: newer values there are kept')
    .argument('<file>', 'the export ("-": standard input)')
    .option('--blind', 'write without the exported contexts (a cluster with another secret refuses them): every value becomes a sibling of what the key holds')
    .option('--concurrency <n>', 'writes in flight', positiveInteger, 8)
    .option('--w <q>', 'replicas that must acknowledge each write')
    .action(async (file: string, flags: ImportFlags) => {
      const input = file === '-' ? process.stdin : createReadStream(file)
      // The iterator is taken now: lines read before a for-await starts would be lost.
      const lines = createInterface({ input, crlfDelay: Infinity })[Symbol.asyncIterator]()
      await withNode(flags, async (client) => {
        let keys = 0
        let writes = 0
        const inFlight = new Set<Promise<void>>()
        let failure: unknown
        let lineNo = 0
        let ended = false
        for await (const line of { [Symbol.asyncIterator]: () => lines }) {
          lineNo++
          if (line.trim() === '') continue
          const record = JSON.parse(line) as ExportRecord & { format?: string, end?: boolean }
          if (lineNo === 1) {
            if (record.format !== EXPORT_FORMAT) throw new CliFailure(`${file}: line 1 is not a levelring export header`, { code: 'LEVELRING_BAD_ARGUMENT' })
            continue
          }
          if (record.end === true) { ended = true; break }
          if (failure !== undefined) break
          const work = importRecord(client, record, flags).then((n) => { keys++; writes += n }, (err: unknown) => { failure ??= err })
          inFlight.add(work)
          void work.finally(() => inFlight.delete(work))
          if (inFlight.size >= flags.concurrency) await Promise.race(inFlight)
        }
        await Promise.all(inFlight)
        if (failure !== undefined) throw failure
        if (!ended) throw new CliFailure(`${file} ends without its end line (a cut export): ${keys} keys were imported; import a whole export`, { code: 'LEVELRING_EXPORT_INCOMPLETE' })
        const out = new Output()
        if (flags.json === true) await out.json({ keys, writes })
        else await out.lines([`imported ${keys} keys (${writes} writes) into ${client.url}`])
      })
    })
}

/** Throw the CliFailure for an answer that is not a 200, with the problem it carries. */
async function failWith (client: NodeClient, path: string, answer: { status: number, body: AsyncIterable<Buffer> }): Promise<never> {
  const chunks: Buffer[] = []
  for await (const c of answer.body) chunks.push(c)
  const p = parseProblem(Buffer.concat(chunks))
  throw new CliFailure(`node ${client.url}: GET ${path} answered ${answer.status}${p?.title === undefined ? '' : ` ${p.title}`}${p?.detail === undefined ? '' : `: ${p.detail}`}`,
    { code: answer.status === 403 ? 'LEVELRING_FORBIDDEN' : 'LEVELRING_NODE_ERROR' })
}

/** Make a written file (or, with `text`, write it first) or a directory durable. */
async function fsyncFile (path: string, text?: string): Promise<void> {
  const handle = await open(path, text === undefined ? 'r' : 'w')
  try {
    if (text !== undefined) await handle.writeFile(text)
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** The lines of a dump endpoint's answer, after checking its status and header line's format. */
async function openDump (client: NodeClient, path: string, format: string): Promise<AsyncIterable<string>> {
  const answer = await client.stream('GET', path, { accept: 'application/x-ndjson' })
  if (answer.status !== 200) await failWith(client, path, answer)
  // The iterator is taken now: lines read before the caller's for-await starts would be lost.
  const lines = createInterface({ input: Readable.from(answer.body), crlfDelay: Infinity })[Symbol.asyncIterator]()
  return (async function * () {
    let first = true
    for await (const line of { [Symbol.asyncIterator]: () => lines }) {
      if (first) {
        first = false
        const header = JSON.parse(line) as { format?: string }
        if (header.format !== format) throw new CliFailure(`node ${client.url}: GET ${path} is not a ${format} stream`, { code: 'LEVELRING_BAD_ANSWER' })
      }
      yield line
    }
  })()
}

/** Write one exported key: each sibling with the exported context (siblings stay siblings), or a delete for a key with none. */
async function importRecord (client: NodeClient, record: ExportRecord, flags: ImportFlags): Promise<number> {
  const context: Record<string, string> = flags.blind === true ? {} : { 'x-causal-context': record.context }
  const path = kvPath(record.key, { w: flags.w })
  if (record.siblings.length === 0) {
    if (flags.blind === true) return 0 // a delete without its history would remove whatever the key holds now
    const answer = await client.raw('DELETE', path, context)
    expectWritten(client, record.key, answer.status, answer.body)
    return 1
  }
  for (const s of record.siblings) {
    const answer = await client.raw('PUT', path, { ...context, 'content-type': s.contentType }, Buffer.from(s.value, 'base64'))
    expectWritten(client, record.key, answer.status, answer.body)
  }
  return record.siblings.length
}

function expectWritten (client: NodeClient, key: string, status: number, body: Buffer): void {
  if (status === 204 || status === 200) return
  const p = parseProblem(body)
  const hint = p?.type === 'urn:levelring:problem:invalid-context' ? '; the export comes from a cluster with another secret: import with --blind' : ''
  throw new CliFailure(`node ${client.url}: writing key ${JSON.stringify(key)} answered ${status}${p?.detail === undefined ? '' : `: ${p.detail}`}${hint}`,
    { code: 'LEVELRING_NODE_ERROR' })
}

async function assertEmptyDir (dir: string): Promise<void> {
  try {
    if ((await readdir(dir)).length > 0) throw new CliFailure(`--out ${dir} exists and is not empty; name a new directory`, { code: 'LEVELRING_BAD_ARGUMENT' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    await mkdir(dir, { recursive: true })
  }
}
