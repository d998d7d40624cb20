import { randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { Request, Response } from 'express'
import type { Logger } from 'pino'
import { pack } from 'tar-stream'
import { GatewayError } from '../error/gateway-error.js'
import { decodeObject } from '../replica/object-codec.js'
import { liveSiblings } from '../replica/stored-object.js'
import { encodeContext, type ContextSecrets } from '../version/causal-context.js'
import { readContext } from '../version/dvv.js'

/** A backup's last tar member, `BACKUP.json`, names its format; a reader refuses any other, and a tar without it is a cut stream. */
export const BACKUP_FORMAT = 'levelring-backup'
export const BACKUP_MANIFEST = 'BACKUP.json'
export const BACKUP_VERSION = 2
/** The first line of an export stream. */
export const EXPORT_FORMAT = 'levelring-export'
export const DUMP_VERSION = 1

const NDJSON = 'application/x-ndjson'

/** What the backup and export endpoints read: the node's engine, as of one snapshot per stream. */
export interface NodeDump {
  readonly nodeId: string
  /** Where checkpoints go while they are streamed: a directory on the data directory's file system (tables are hard-linked). */
  readonly checkpointRoot: string
  /** Write an engine checkpoint into a new directory (NodeStorage.checkpoint). */
  readonly checkpoint: (dir: string) => Promise<{ tables: number, linked: number, bytes: number }>
  /** Every stored object (key, encoded object), as of a snapshot taken when iteration starts. */
  readonly objects: () => AsyncIterable<[string, Uint8Array]>
  readonly contextSecret: ContextSecrets
  readonly logger: Logger
}

/**
 * GET /v1/admin/backup: the node's whole engine (objects, tombstone index, metadata, hints) as a tar
 * of an engine checkpoint: the tables as of one moment, hard-linked (no copy on the node), and the
 * MANIFEST and CURRENT naming them, taken while the node keeps serving; then `BACKUP.json` (node,
 * time, files, bytes) as the last member, so a reader tells a whole stream from a cut one. The
 * checkpoint is deleted once streamed. `levelring backup` unpacks it into a directory that is a data
 * directory as it stands.
 */
export function backupRoute (dump: NodeDump | undefined) {
  return async function backup (_req: Request, res: Response): Promise<void> {
    if (dump === undefined) throw new GatewayError('LEVELRING_ROUTE_NOT_FOUND', 'this node has no backup endpoint')
    const dir = join(dump.checkpointRoot, `backup-${Date.now()}-${randomBytes(4).toString('hex')}`)
    const createdAt = new Date().toISOString()
    try {
      const made = await dump.checkpoint(dir)
      const names = (await readdir(dir)).sort()
      res.status(200).setHeader('Content-Type', 'application/x-tar')
      const tar = pack()
      const sent = pipeline(tar, res)
      for (const name of names) {
        const path = join(dir, name)
        const entry = tar.entry({ name, size: (await stat(path)).size, mode: 0o600 })
        await pipeline(createReadStream(path), entry)
      }
      // Every file is read: the checkpoint goes before the last member, so a reader that has the whole stream finds it gone.
      await rm(dir, { recursive: true, force: true })
      const manifest = { format: BACKUP_FORMAT, version: BACKUP_VERSION, node: dump.nodeId, createdAt, files: names.length, tables: made.tables, bytes: made.bytes }
      tar.entry({ name: BACKUP_MANIFEST, mode: 0o600 }, `${JSON.stringify(manifest, null, 2)}\n`)
      tar.finalize()
      await sent
    } catch (err) {
      // Once the head is sent, a cut stream (no BACKUP.json) is the only way left to say it failed.
      if (res.headersSent) {
        dump.logger.error({ err }, 'backup stream failed')
        res.destroy(err as Error)
      } else {
        throw err
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }
}

/**
 * GET /v1/admin/export: every key this node stores, as NDJSON, one line per key: `{"key",
 * "context","siblings":[{"value" (base64),"contentType","lastModified"}]}`, the same shape and the
 * same signed causal context as GET /v1/kv/{key}'s JSON form (a deleted key: no siblings, the
 * delete's context). `levelring import` writes each back with its context, so nothing newer on the
 * target is overwritten.
 */
export function exportRoute (dump: NodeDump | undefined) {
  return async function exportAll (_req: Request, res: Response): Promise<void> {
    if (dump === undefined) throw new GatewayError('LEVELRING_ROUTE_NOT_FOUND', 'this node has no export endpoint')
    await stream(dump, res, { format: EXPORT_FORMAT, version: DUMP_VERSION, node: dump.nodeId, createdAt: new Date().toISOString() }, async function * () {
      for await (const [key, bytes] of dump.objects()) {
        const object = decodeObject(key, bytes)
        yield {
          key,
          context: encodeContext(key, readContext(object), dump.contextSecret),
          siblings: liveSiblings(object).map((s) => ({
            value: Buffer.from(s.value.value).toString('base64'),
            contentType: s.value.contentType,
            lastModified: new Date(s.value.lastModified).toISOString()
          }))
        }
      }
    })
  }
}

/** Write header, every record, then the end line, one JSON document a line, waiting for the reader (backpressure); stops when it goes away. */
async function stream (dump: NodeDump, res: Response, header: Record<string, unknown>, records: () => AsyncIterable<Record<string, unknown>>): Promise<void> {
  let gone = false
  res.on('close', () => { gone = true })
  res.status(200).setHeader('Content-Type', NDJSON)
  const write = async (line: Record<string, unknown>): Promise<void> => {
    if (!res.write(`${JSON.stringify(line)}\n`)) await new Promise<void>((resolve) => { res.once('drain', resolve); res.once('close', resolve) })
  }
  await write(header)
  let count = 0
  try {
    for await (const record of records()) {
      if (gone) return
      await write(record)
      count++
    }
  } catch (err) {
    // The head is sent: the cut stream (no end line) is the only way left to say it failed.
    dump.logger.error({ err }, 'backup or export stream failed')
    res.destroy(err as Error)
    return
  }
  await write({ end: true, entries: count })
  res.end()
}
