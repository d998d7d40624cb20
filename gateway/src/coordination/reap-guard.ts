import type { ReplicaPlacement } from '../ring/placement.js'
import { liveSiblings, type StoredObject } from '../replica/stored-object.js'
import type { ReplicaAccess } from './replica-access.js'

/** How long the guard waits for each replica's answer before refusing to reap (ms). */
export const REAP_CHECK_TIMEOUT_MS = 5_000

/**
 * The veto a cluster member's tombstone reaper consults (ReplicaStore.reapTombstones' mayReap): a
 * tombstone may go only when every other replica of the key answers and holds no live version.
 * Otherwise a replica that missed the delete (it was down) still holds the old value, and once the
 * tombstone is gone nothing dominates that value: the next read would bring the deleted value back.
 * A replica holding nothing is fine (it never got the value, or it reaped already), so the
 * replicas of a key reap one after the other. Every primary of the key is asked, including one
 * believed down (sloppy quorum serves without it, but it may hold the deleted value): one that does
 * not answer blocks reaping.
 */
export class ReapGuard {
  readonly #placement: ReplicaPlacement
  readonly #access: ReplicaAccess
  readonly #primariesOf: ((key: string) => readonly string[]) | undefined

  /**
   * `primariesOf`: the key's n primaries under the current ring, up or not. With sloppy placement the
   * targets leave out a primary believed down (or put a stand-in in its place): that primary must
   * still be asked, since it may hold the deleted value. Without it, the placement's targets are
   * asked and a stand-in among them blocks reaping.
   */
  constructor (placement: ReplicaPlacement, access: ReplicaAccess, primariesOf?: (key: string) => readonly string[]) {
    this.#placement = placement
    this.#access = access
    this.#primariesOf = primariesOf
  }

  /** True when no other replica of `key` could resurrect a version of it. */
  async mayReap (key: string, _object: StoredObject): Promise<boolean> {
    let replicas: readonly string[]
    if (this.#primariesOf !== undefined) {
      replicas = this.#primariesOf(key)
    } else {
      const { targets } = this.#placement.place(key)
      if (targets.some((t) => !t.primary)) return false // a primary believed down stands behind the stand-in
      replicas = targets.map((t) => t.node)
    }
    const others = replicas.filter((node) => node !== this.#access.selfId)
    const held = await Promise.allSettled(others.map((node) => this.#access.read(node, key, REAP_CHECK_TIMEOUT_MS)))
    return held.every((r) => r.status === 'fulfilled' && (r.value === undefined || liveSiblings(r.value).length === 0))
  }
}
