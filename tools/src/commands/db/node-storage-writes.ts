/**
 * `db put` and `db del` on a stopped node's data directory: an object is written the way the node
 * writes it (NodeStorage.writeObject / removeObject), so its key hash index entry and tombstone
 * index entry change in the same engine batch and the node finds them in step when it starts.
 */
import { KEY_HASH_SPACE, KeyHashIndex } from '../../../../gateway/src/anti-entropy/key-hash-index.js'
import { decodeObject } from '../../../../gateway/src/replica/object-codec.js'
import { durable, NodeStorage, SPACES } from '../../../../gateway/src/replica/node-storage.js'
import { FORMAT_KEY, STORAGE_FORMAT } from '../../../../gateway/src/replica/storage-format.js'
import { storageKey, userKeyOf } from '../../../../gateway/src/replica/storage-keys.js'
import { isDeleted } from '../../../../gateway/src/replica/stored-object.js'
import { CliFailure } from '../../cli-kit/failure.js'
import { withDatabase } from './database-directory.js'

/** abstract-level's sublevel prefix: `!name!` before every key of the sublevel. */
const SEPARATOR = '!'

/** The metadata sublevel's key prefix: a database holding it is a node's data directory. */
const META_PREFIX = `${SEPARATOR}${SPACES.meta}${SEPARATOR}`

/** Spaces derived from the objects: written only with the object they describe, never alone. */
const DERIVED_SPACES: ReadonlySet<string> = new Set([SPACES.tombstones, KEY_HASH_SPACE])

/** Whether the database in `dir` is a levelring node's data directory (its engine has the node's metadata). */
export async function isNodeDataDirectory (dir: string): Promise<boolean> {
  return await withDatabase(dir, async (db) => {
    const start = Buffer.from(META_PREFIX)
    const end = Buffer.from(META_PREFIX.slice(0, -1) + String.fromCharCode(SEPARATOR.charCodeAt(0) + 1))
    for await (const _ of db.keys({ gte: start, lt: end, limit: 1 })) return true
    return false
  }, { readOnly: true })
}

/** An engine key of a node's data directory split into its sublevel and the key within it. */
function spaceKey (dir: string, key: Buffer): { space: string, inner: string } {
  const text = key.toString('utf8')
  const match = /^!([^!]+)!([\s\S]*)$/.exec(text)
  if (!Buffer.from(text, 'utf8').equals(key) || match === null) {
    throw new CliFailure(`${dir} is a levelring node's data directory and KEY names none of its spaces (!o!, !meta!, !h!, ...): ` +
      'give the whole engine key as `db scan` shows it', { code: 'LEVELRING_BAD_ARGUMENT' })
  }
  if (DERIVED_SPACES.has(match[1]!)) {
    throw new CliFailure(`!${match[1]!}! of a node's data directory is an index kept in step with the objects: ` +
      `put or delete the object (!${SPACES.objects}!...) instead, and the index follows`, { code: 'LEVELRING_BAD_ARGUMENT' })
  }
  return { space: match[1]!, inner: match[2]! }
}

/** The user key of an object space key; refuses one without a well-formed partition prefix. */
function objectKey (dir: string, inner: string): string {
  const user = inner.length >= 8 ? userKeyOf(inner) : undefined
  if (user === undefined || storageKey(user) !== inner) {
    throw new CliFailure(`!${SPACES.objects}!${inner} in ${dir} is not an object key: the partition prefix must be the 8 hex digits of the user key's hash, ` +
      'as `db scan` shows it', { code: 'LEVELRING_BAD_ARGUMENT' })
  }
  return user
}

/** Open `dir` as the node does (NodeStorage, key hash index attached), refusing a directory of another storage format; run `fn`, close. */
async function withNodeStorage (dir: string, fn: (storage: NodeStorage) => Promise<void>): Promise<void> {
  const storage = await NodeStorage.open(dir)
  try {
    const format = await storage.meta.get(FORMAT_KEY)
    if (format !== String(STORAGE_FORMAT)) {
      throw new CliFailure(`${dir} is a levelring node's data directory of storage format ${format ?? 0}, not ${STORAGE_FORMAT}: ` +
        'start the node once (it migrates the directory), stop it, then run this again', { code: 'LEVELRING_STORAGE_FORMAT' })
    }
    KeyHashIndex.attach(storage)
    await fn(storage)
  } finally {
    await storage.close()
  }
}

/** Write `value` under engine key `key` of a node's data directory, objects through the node's write path; fsynced. */
export async function nodeStoragePut (dir: string, key: Buffer, value: Buffer): Promise<void> {
  const { space, inner } = spaceKey(dir, key)
  if (space !== SPACES.objects) {
    await withNodeStorage(dir, async (storage) => { await storage.space(space).put(inner, value, durable(true)) })
    return
  }
  const user = objectKey(dir, inner)
  let deleted: number | null
  try {
    const object = decodeObject(user, value)
    deleted = isDeleted(object) ? Math.max(...object.siblings.map((s) => s.value.lastModified)) : null
  } catch (err) {
    throw new CliFailure(`VALUE is not a stored object (${(err as Error).message}); nothing was written. ` +
      'Objects are encoded sibling sets: copy one with `db get --encoding hex`, or write through a running node (`levelring kv put`)', { code: 'LEVELRING_BAD_ARGUMENT' })
  }
  await withNodeStorage(dir, async (storage) => { await storage.writeObject(user, value, deleted, true) })
}

/** Delete engine key `key` of a node's data directory, an object with its index entries; fsynced. */
export async function nodeStorageDel (dir: string, key: Buffer): Promise<void> {
  const { space, inner } = spaceKey(dir, key)
  if (space !== SPACES.objects) {
    await withNodeStorage(dir, async (storage) => { await storage.space(space).del(inner, durable(true)) })
    return
  }
  const user = objectKey(dir, inner)
  await withNodeStorage(dir, async (storage) => {
    await storage.removeObject(user)
    await storage.syncBarrier() // removeObject's batch is not fsynced; this fsyncs the WAL holding it
  })
}
