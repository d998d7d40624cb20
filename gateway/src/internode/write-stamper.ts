import type { CoordinatedWrite } from '../coordination/coordinator.js'
import type { ForwardedWrite } from './internode-protocol.js'

/**
 * The replica side of a forwarded write: stamp it here (this node is a replica of the key), send
 * the result to the other replicas, resolve once the requested counts acknowledged. Rejects like
 * Coordinator.put (503 with counts, 409 for too many siblings).
 */
export interface WriteStamper {
  stampHere (key: string, write: ForwardedWrite): Promise<CoordinatedWrite>
}
