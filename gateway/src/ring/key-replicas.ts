import type { KeyReplicas } from './placement.js'
import { DEFAULT_ZONE, type Ring } from './ring.js'

/**
 * The key's partition and its n primaries in preference order (Ring.preferenceList: distinct zones
 * as far as zones allow), each with its zone and the address `addressOf` knows for it. Liveness does
 * not enter: this is where the key lives, not where a request would go right now.
 */
export function keyReplicas (ring: Ring, n: number, key: string, addressOf: (node: string) => string | undefined): KeyReplicas {
  const partition = ring.partitionOf(key)
  const replicas = ring.preferenceList(partition, n).map((node) => ({ node, zone: ring.zoneOf(node) ?? DEFAULT_ZONE, address: addressOf(node) ?? '' }))
  return { key, partition, replicas }
}
