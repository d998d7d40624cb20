import type { ReplicaPlacement } from '../ring/placement.js'
import { liveSiblings, type StoredObject } from '../replica/stored-object.js'
import type { ReplicaAccess } from './replica-access.js'

/** How long the guard waits for each replica's answer before refusing to reap (ms). */
export const REAP_CHECK_TIMEOUT_MS = 5_000

/**
 * The veto a cluster member's tombstone reaper consults (ReplicaStore.reapTombstones' mayReap): a
 * tombstone may go only when no node that could hold an older copy of the key can bring it back.
 * Otherwise a replica that missed the delete (it was down) still holds the old value, and once the
 * tombstone is gone nothing dominates that value: the next read would bring the deleted value back.
 * So every primary of the key is asked, including one believed down (sloppy quorum serves without
 * it, but it may hold the deleted value), and, when `membersOf` is given, every other member too,
 * up or not: it may keep a hint for the key (it stood in for a primary), or a stray copy in its own
 * objects (a partition it no longer replicates, not yet handed over). Every node asked must answer
 * and hold no live version, or reaping waits: a member that is down blocks it until it returns
 * and delivers what it holds (the grace rule in docs/architecture.md). A node holding nothing is
 * fine (it never got the value, or it reaped already), so the replicas of a key reap one after the other.
 */
export class ReapGuard {
  readonly #placement: ReplicaPlacement
  readonly #access: ReplicaAccess
  readonly #primariesOf: ((key: string) => readonly string[]) | undefined
  readonly #membersOf: (() => readonly string[]) | undefined

  /**
   * `primariesOf`: the key's n primaries under the current ring, up or not. With sloppy placement the
   * targets leave out a primary believed down (or put a stand-in in its place): that primary must
   * still be asked, since it may hold the deleted value. Without it, the placement's targets are
   * asked and a stand-in among them blocks reaping. `membersOf`: every member of the cluster, asked
   * for their hints and own copies of the key.
   */
  constructor (placement: ReplicaPlacement, access: ReplicaAccess, primariesOf?: (key: string) => readonly string[], membersOf?: () => readonly string[]) {
    this.#placement = placement
    this.#access = access
    this.#primariesOf = primariesOf
    this.#membersOf = membersOf
  }

  /** True when no other node could resurrect a version of `key`. */
  async mayReap (key: string, _object: StoredObject): Promise<boolean> {
    let replicas: readonly string[]
    if (this.#primariesOf !== undefined) {
      replicas = this.#primariesOf(key)
    } else {
      const { targets } = this.#placement.place(key)
      if (targets.some((t) => !t.primary)) return false // a primary believed down stands behind the stand-in
      replicas = targets.map((t) => t.node)
    }
    const self = this.#access.selfId
    const asked: Array<Promise<StoredObject | undefined>> = []
    for (const node of replicas) if (node !== self) asked.push(this.#access.read(node, key, REAP_CHECK_TIMEOUT_MS))
    for (const node of this.#membersOf?.() ?? []) {
      if (replicas.includes(node)) continue
      // This node's own hints count too: one it keeps for another replica is still to be delivered.
      asked.push(this.#access.read(node, key, REAP_CHECK_TIMEOUT_MS, true))
      if (node !== self) asked.push(this.#access.read(node, key, REAP_CHECK_TIMEOUT_MS))
    }
    if (this.#membersOf !== undefined && replicas.includes(self)) asked.push(this.#access.read(self, key, REAP_CHECK_TIMEOUT_MS, true))
    const held = await Promise.allSettled(asked)
    return held.every((r) => r.status === 'fulfilled' && (r.value === undefined || liveSiblings(r.value).length === 0))
  }
}
