import type { TextSpace } from '../replica/node-storage.js'
import { randomBytes } from 'node:crypto'
import { open, readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
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
 * markers (CLEAN-STOP, RUNNING) before starting such a restore.
 *
 * A renewed epoch does not by itself mean the directory lost acknowledged writes: a process that
 * crashed (SIGKILL, OOM) handed every acknowledged write to the OS, which keeps it while the machine
 * runs. So each start also leaves a RUNNING marker and records its identity with the boot id of
 * the running kernel. An unclean start finding that very marker under the same boot id was a crash
 * in place: nothing is behind. Anything else (another boot: a power loss or a kernel crash may have
 * dropped writes not fsynced; a marker that is missing or another file: a copy or a restore) may be
 * behind the writes it acknowledged, and the node treats its partitions as rebuilding
 * (anti-entropy/partition-recovery.ts).
 */

const EPOCH_KEY = 'actor-epoch'
const CLEAN_STOP_KEY = 'clean-stop'
const RUNNING_KEY = 'running'

/** The marker file a clean stop leaves in the data directory (beside the engine's files). */
export const CLEAN_STOP_FILE = 'CLEAN-STOP'

/** The marker file each start leaves in the data directory: found again after a crash in place. */
export const RUNNING_FILE = 'RUNNING'

/** Where Linux names the running kernel's boot (a new random id each boot). */
const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id'

/** A marker file's identity: a copy or restore makes a new file (new inode, new ctime). */
interface FileIdentity {
  readonly dev: string
  readonly ino: string
  readonly ctimeNs: string
}

/** What a clean stop records: the epoch and the marker file's identity. */
interface CleanStop extends FileIdentity {
  readonly epoch: string
}

/** What a start records: the RUNNING marker's identity and the boot it was made in. */
interface Running extends FileIdentity {
  readonly bootId: string
}

/** The epoch this process stamps with, why it is new, and why the directory may be behind. */
export interface OpenedEpoch {
  readonly epoch: string
  /** Why the epoch was renewed; undefined when the previous one was kept. */
  readonly renewed: string | undefined
  /**
   * Why this directory may be missing writes it acknowledged (a copy, a restore, a crash of the
   * machine); undefined when it cannot be: a clean stop, a process crash in place, a new directory.
   */
  readonly behind: string | undefined
}

type Meta = TextSpace

/**
 * Decide this process's actor epoch: the stored one after a verified clean stop, else a new random
 * one (fsynced before returning). `initial` is the epoch of a directory that never had one (a new
 * directory: nothing can have been lost). Consumes the clean-stop record either way.
 */
export async function openActorEpoch (meta: Meta, dataDir: string, initial: string | undefined, bootId: () => Promise<string | undefined> = readBootId): Promise<OpenedEpoch> {
  const stored = await meta.get(EPOCH_KEY)
  const recorded = await meta.get(CLEAN_STOP_KEY)
  const marker = await fileIdentity(join(dataDir, CLEAN_STOP_FILE))
  const boot = await bootId()
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
  const behind = stored === undefined || renewed === undefined
    ? undefined
    : recorded === undefined && await crashedInPlace(meta, dataDir, boot) ? undefined : renewed
  // Consumed before any dot is issued: a crash from now on finds no record.
  if (recorded !== undefined) await meta.del(CLEAN_STOP_KEY, durable(true))
  if (marker !== undefined) await rm(join(dataDir, CLEAN_STOP_FILE), { force: true })
  const epoch = stored === undefined && renewed === undefined ? initial! : renewed === undefined ? stored! : newEpoch()
  if (epoch !== stored) await meta.put(EPOCH_KEY, epoch, durable(true))
  await recordRunning(meta, dataDir, boot)
  return { epoch, renewed, behind }
}

/** True when the RUNNING marker the last start recorded is still this very file, and the machine has not rebooted since. */
async function crashedInPlace (meta: Meta, dataDir: string, boot: string | undefined): Promise<boolean> {
  const stored = await meta.get(RUNNING_KEY)
  if (stored === undefined || boot === undefined) return false
  const record = JSON.parse(stored) as Running
  const marker = await fileIdentity(join(dataDir, RUNNING_FILE))
  return record.bootId === boot && marker !== undefined && marker.dev === record.dev && marker.ino === record.ino && marker.ctimeNs === record.ctimeNs
}

/** Make a new RUNNING marker and record it with the boot id (none known: the next unclean start counts as behind). */
async function recordRunning (meta: Meta, dataDir: string, boot: string | undefined): Promise<void> {
  const path = join(dataDir, RUNNING_FILE)
  await writeMarker(path, 'levelring node running on this data directory; a copy or restore of it is told apart by this file\n')
  if (boot === undefined) { await meta.del(RUNNING_KEY, durable(true)); return }
  await meta.put(RUNNING_KEY, JSON.stringify({ bootId: boot, ...(await fileIdentity(path))! } satisfies Running), durable(true))
}

async function writeMarker (path: string, text: string): Promise<void> {
  await rm(path, { force: true })
  const file = await open(path, 'wx')
  try {
    await file.writeFile(text)
    await file.sync()
  } finally {
    await file.close()
  }
}

async function readBootId (): Promise<string | undefined> {
  try {
    return (await readFile(BOOT_ID_FILE, 'utf8')).trim()
  } catch {
    return undefined
  }
}

/**
 * Record a clean stop of `epoch`: call last before closing the engine, once no more dots will be
 * issued. The record's fsync also makes every earlier write of the engine durable (one WAL).
 */
export async function recordCleanStop (meta: Meta, dataDir: string, epoch: string): Promise<void> {
  const path = join(dataDir, CLEAN_STOP_FILE)
  await writeMarker(path, `levelring clean stop of actor epoch ${epoch}; deleting this file makes the next start use a new epoch\n`)
  const marker = (await fileIdentity(path))!
  await meta.put(CLEAN_STOP_KEY, JSON.stringify({ epoch, ...marker } satisfies CleanStop), durable(true))
}

async function fileIdentity (path: string): Promise<FileIdentity | undefined> {
  try {
    const s = await stat(path, { bigint: true })
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
