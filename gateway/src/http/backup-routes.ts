import type { Request, Response } from 'express'
import type { Logger } from 'pino'
import { GatewayError } from '../error/gateway-error.js'
import { decodeObject } from '../replica/object-codec.js'
import { liveSiblings } from '../replica/stored-object.js'
import { encodeContext, type ContextSecrets } from '../version/causal-context.js'
import { readContext } from '../version/dvv.js'

/** The first line of a backup stream names its format; a reader refuses any other. */
export const BACKUP_FORMAT = 'levelring-backup'
/** The first line of an export stream. */
export const EXPORT_FORMAT = 'levelring-export'
export const DUMP_VERSION = 1

const NDJSON = 'application/x-ndjson'

/** What the backup and export endpoints read: the node's engine, as of one snapshot per stream. */
export interface NodeDump {
  readonly nodeId: string
  /** Every raw engine entry (all sublevels), as of a snapshot taken when iteration starts. */
  readonly entries: () => AsyncIterable<[Uint8Array, Uint8Array]>
  /** Every stored object (key, encoded object), as of a snapshot taken when iteration starts. */
  readonly objects: () => AsyncIterable<[string, Uint8Array]>
  readonly contextSecret: ContextSecrets
  readonly logger: Logger
}

/**
 * GET /v1/admin/backup: the node's whole engine (objects, tombstone index, metadata, hints) as
 * NDJSON, one `{"k","v"}` line of base64 per raw entry, as of one engine snapshot: a consistent
 * point-in-time copy taken while the node keeps serving. A header line names the format and node;
 * a last `{"end":true,"entries":N}` line tells a whole stream from a cut one. `levelring backup`
 * writes it into a fresh lsm-level directory.
 */
export function backupRoute (dump: NodeDump | undefined) {
  return async function backup (_req: Request, res: Response): Promise<void> {
    if (dump === undefined) throw new GatewayError('LEVELRING_ROUTE_NOT_FOUND', 'this node has no backup endpoint')
    await stream(dump, res, { format: BACKUP_FORMAT, version: DUMP_VERSION, node: dump.nodeId, createdAt: new Date().toISOString() }, async function * () {
      for await (const [k, v] of dump.entries()) yield { k: Buffer.from(k).toString('base64'), v: Buffer.from(v).toString('base64') }
    })
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
