import { randomBytes } from 'node:crypto'
import { open, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { AbstractLevel } from 'abstract-level'
import { durable } from '../replica/node-storage.js'

/**
 * Actor epochs: the part of the actor id (`nodeId@epoch`) that changes whenever this data directory
 * may have gone back in time, so that no dot stamped afterwards equals or dominates one stamped
 * before (riak_test's kv679). A dot (a, n) claims "a's history of this key up to n is in this
 * clock"; a node whose objects lost writes it stamped (a restore from a backup, writes the OS had
 * not flushed when the power failed) would make that claim falsely, and replicas then keep two
 * values under one dot or drop an acknowledged write whose dot the new clock "has seen".
 *
 * The epoch is kept only after a clean stop that this very directory recorded: at the end of a clean
 * shutdown the node fsyncs a record naming the epoch and the identity of a marker file it creates
 * beside the engine (device, inode, ctime in ns). On start the record is consumed (deleted, synced)
 * before any dot is issued, so a crash leaves none. The epoch is renewed when the record is absent
 * (crash, power loss, a copy of a running node), or the marker file is missing or not the same file
 * (a copy or restore writes files anew: a new ctime, which no ordinary tool can set back).
 * Not caught: a block-level snapshot rolled back in place; docs/operations.md says to delete the
 * marker before starting such a restore.
 */

const EPOCH_KEY = 'actor-epoch'
const CLEAN_STOP_KEY = 'clean-stop'

/** The marker file a clean stop leaves in the data directory (beside the engine's files). */
export const CLEAN_STOP_FILE = 'CLEAN-STOP'

/** What a clean stop records: the epoch and the marker file's identity. */
interface CleanStop {
  readonly epoch: string
  readonly dev: string
  readonly ino: string
  readonly ctimeNs: string
}

/** The epoch this process stamps with, and why it is new (undefined when the previous one was kept). */
export interface OpenedEpoch {
  readonly epoch: string
  readonly renewed: string | undefined
}

type Meta = AbstractLevel<any, string, string>

/**
 * Decide this process's actor epoch: the stored one after a verified clean stop, else a new random
 * one (fsynced before returning). `initial` is the epoch of a directory that never had one (a new
 * directory: nothing can have been lost). Consumes the clean-stop record either way.
 */
export async function openActorEpoch (meta: Meta, dataDir: string, initial: string | undefined): Promise<OpenedEpoch> {
  const stored = await meta.get(EPOCH_KEY)
  const recorded = await meta.get(CLEAN_STOP_KEY)
  const marker = await markerIdentity(dataDir)
  let renewed: string | undefined
  if (stored === undefined) {
    renewed = initial === undefined ? 'the data directory has no actor epoch yet' : undefined
  } else if (recorded === undefined) {
    renewed = 'the last stop was not clean (crash, power loss, or a copy of a running node): writes may have been lost'
  } else {
    const record = JSON.parse(recorded) as CleanStop
    if (record.epoch !== stored) renewed = 'the clean-stop record names another epoch'
    else if (marker === undefined) renewed = `the ${CLEAN_STOP_FILE} marker is missing (a restore?)`
    else if (marker.dev !== record.dev || marker.ino !== record.ino || marker.ctimeNs !== record.ctimeNs) {
      renewed = `the ${CLEAN_STOP_FILE} marker is not the file the clean stop wrote: the directory was copied or restored`
    }
  }
  // Consumed before any dot is issued: a crash from now on finds no record.
  if (recorded !== undefined) await meta.del(CLEAN_STOP_KEY, durable(true))
  if (marker !== undefined) await rm(join(dataDir, CLEAN_STOP_FILE), { force: true })
  const epoch = stored === undefined && renewed === undefined ? initial! : renewed === undefined ? stored! : newEpoch()
  if (epoch !== stored) await meta.put(EPOCH_KEY, epoch, durable(true))
  return { epoch, renewed }
}

/**
 * Record a clean stop of `epoch`: call last before closing the engine, once no more dots will be
 * issued. The record's fsync also makes every earlier write of the engine durable (one WAL).
 */
export async function recordCleanStop (meta: Meta, dataDir: string, epoch: string): Promise<void> {
  const path = join(dataDir, CLEAN_STOP_FILE)
  await rm(path, { force: true })
  const file = await open(path, 'wx')
  try {
    await file.writeFile(`levelring clean stop of actor epoch ${epoch}; deleting this file makes the next start use a new epoch\n`)
    await file.sync()
  } finally {
    await file.close()
  }
  const marker = (await markerIdentity(dataDir))!
  await meta.put(CLEAN_STOP_KEY, JSON.stringify({ epoch, ...marker } satisfies CleanStop), durable(true))
}

async function markerIdentity (dataDir: string): Promise<Omit<CleanStop, 'epoch'> | undefined> {
  try {
    const s = await stat(join(dataDir, CLEAN_STOP_FILE), { bigint: true })
    return { dev: String(s.dev), ino: String(s.ino), ctimeNs: String(s.ctimeNs) }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/** 48 random bits: two epochs of one node id colliding is a one-in-10^14 event. */
function newEpoch (): string {
  return randomBytes(6).toString('hex')
}
