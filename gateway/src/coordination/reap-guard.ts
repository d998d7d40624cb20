import type { ReplicaPlacement } from '../cluster/placement.js'
import { liveSiblings, type StoredObject } from '../storage/stored-object.js'
import type { ReplicaAccess } from './replica-access.js'

/** How long the guard waits for each replica's answer before refusing to reap (ms). */
export const REAP_CHECK_TIMEOUT_MS = 5_000

/**
 * The veto a cluster member's tombstone reaper consults (ReplicaStore.reapTombstones' mayReap): a
 * tombstone may go only when every other replica of the key answers and holds no live version.
 * Otherwise a replica that missed the delete (it was down) still holds the old value, and once the
 * tombstone is gone nothing dominates that value: the next read would bring the deleted value back.
 * A replica holding nothing is fine (it never got the value, or it reaped already), so the
 * replicas of a key reap one after the other. A replica that does not answer blocks reaping.
 */
export class ReapGuard {
  readonly #placement: ReplicaPlacement
  readonly #access: ReplicaAccess

  constructor (placement: ReplicaPlacement, access: ReplicaAccess) {
    this.#placement = placement
    this.#access = access
  }

  /** True when no other replica of `key` could resurrect a version of it. */
  async mayReap (key: string, _object: StoredObject): Promise<boolean> {
    const others = this.#placement.place(key).targets.filter((t) => t.node !== this.#access.selfId)
    const held = await Promise.allSettled(others.map((t) => this.#access.read(t.node, key, REAP_CHECK_TIMEOUT_MS)))
    return held.every((r) => r.status === 'fulfilled' && (r.value === undefined || liveSiblings(r.value).length === 0))
  }
}
