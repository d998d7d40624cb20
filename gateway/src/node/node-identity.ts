import type { TextSpace } from '../replica/node-storage.js'
import { randomBytes } from 'node:crypto'
import { GatewayError } from '../error/gateway-error.js'
import { durable } from '../replica/node-storage.js'
import type { ActorId } from '../version/dvv.js'
import { openActorEpoch, type OpenedEpoch } from './actor-epoch.js'

const IDENTITY_KEY = 'identity'

/** Who this data directory belongs to, and the actor id its writes are stamped with. */
export interface NodeIdentity {
  readonly nodeId: string
  /** Random, made when the data directory was created: a wiped directory gets a new one. */
  readonly incarnation: string
  /**
   * Random, renewed whenever the directory may have gone back in time (node/actor-epoch.ts); a new
   * directory starts with its incarnation.
   */
  readonly epoch: string
  /** Why this process stamps with a new epoch; undefined when it kept the previous one. */
  readonly epochRenewed: string | undefined
  /** Why the directory may be missing writes it acknowledged (a copy, a restore, a machine crash); undefined when it cannot be. */
  readonly behind: string | undefined
  /** `nodeId@epoch`: dots from an earlier life of the node can never collide with new ones. */
  readonly actor: ActorId
}

/** LEVELRING_DATA_DIR_MISMATCH: the data directory belongs to another node id. */
function dataDirectoryMismatch (stored: string, configured: string): GatewayError {
  return new GatewayError('LEVELRING_DATA_DIR_MISMATCH',
    `the data directory belongs to node ${JSON.stringify(stored)}, not ${JSON.stringify(configured)}; ` +
    'start with --node-id ' + stored + ' or point --data at another directory', { stored, configured })
}

/**
 * Read the identity of the data directory in `dataDir`, creating it (synced) on first open, and
 * settle this process's actor epoch (before any dot is stamped).
 */
export async function loadIdentity (meta: TextSpace, nodeId: string, dataDir: string): Promise<NodeIdentity> {
  const stored = await meta.get(IDENTITY_KEY)
  if (stored !== undefined) {
    const parsed = JSON.parse(stored) as { nodeId: string, incarnation: string }
    if (parsed.nodeId !== nodeId) throw dataDirectoryMismatch(parsed.nodeId, nodeId)
    return identity(parsed.nodeId, parsed.incarnation, await openActorEpoch(meta, dataDir, undefined))
  }
  // 48 random bits: two incarnations of one node id colliding is a one-in-10^14 event.
  const incarnation = randomBytes(6).toString('hex')
  await meta.put(IDENTITY_KEY, JSON.stringify({ nodeId, incarnation, createdAt: new Date().toISOString() }), durable(true))
  return identity(nodeId, incarnation, await openActorEpoch(meta, dataDir, incarnation))
}

function identity (nodeId: string, incarnation: string, { epoch, renewed, behind }: OpenedEpoch): NodeIdentity {
  return { nodeId, incarnation, epoch, epochRenewed: renewed, behind, actor: `${nodeId}@${epoch}` }
}
