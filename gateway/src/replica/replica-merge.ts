import { normalise, type StoredObject } from './stored-object.js'
import { sameVersions, sync } from '../version/dvv.js'

/**
 * The merge of replicas' sets of one key: DVV sync of every set held (commutative, associative,
 * idempotent, so the order of answers does not matter), in the canonical form every replica applies
 * (stored-object.ts normalise). Undefined when no replica holds the key.
 */
export function mergeReplicas (objects: Iterable<StoredObject | undefined>): StoredObject | undefined {
  let merged: StoredObject | undefined
  for (const object of objects) {
    if (object === undefined) continue
    merged = merged === undefined ? object : sync(merged, object)
  }
  return merged === undefined ? undefined : normalise(merged)
}

/**
 * True when a replica holding `held` lacks something of `merged`: it holds nothing, or a set whose
 * versions differ (dominated, or missing a concurrent sibling). Read repair sends it `merged`.
 */
export function needsRepair (held: StoredObject | undefined, merged: StoredObject): boolean {
  return held === undefined || !sameVersions(normalise(held), merged)
}
