import type { Logger } from 'pino'
import type { MemberStatus } from './member-table.js'
import { durable, type TextSpace } from '../replica/node-storage.js'
import type { StoredMember } from './membership.js'
import { ringStateFromJSON, ringStateToJSON, type RingState, type RingStateJSON } from '../ring/ring-state.js'

const CLUSTER_STATE_KEY = 'cluster-state'

/** What a node remembers of the cluster across restarts. */
export interface StoredClusterState {
  /** The agreed ring state when it last changed. */
  readonly ring: RingState | undefined
  /** This node's own lifecycle status (a node that was leaving goes on leaving). */
  readonly selfStatus: MemberStatus | undefined
  /** The other members and their addresses: whom to gossip with after a restart. */
  readonly members: readonly StoredMember[]
}

interface StoredJSON {
  readonly ring: RingStateJSON | null
  readonly selfStatus?: MemberStatus
  readonly members: StoredMember[]
}

/**
 * The node's cluster state in its metadata space (one JSON document, fsynced): written whenever
 * the ring or a member's address or status changes, read at start. Heartbeats are not stored:
 * liveness is learned afresh. Saves are coalesced: at most one in flight, the latest state wins.
 */
export class ClusterStateStore {
  readonly #meta: TextSpace
  readonly #logger: Logger
  #writing: Promise<void> | undefined
  #next: (() => StoredClusterState) | undefined

  constructor (meta: TextSpace, logger: Logger) {
    this.#meta = meta
    this.#logger = logger
  }

  /** The stored state; an unreadable one is logged and ignored (the node then starts from its configuration). */
  async load (): Promise<StoredClusterState> {
    const text = await this.#meta.get(CLUSTER_STATE_KEY)
    if (text === undefined) return { ring: undefined, selfStatus: undefined, members: [] }
    try {
      const json = JSON.parse(text) as StoredJSON
      return { ring: json.ring === null ? undefined : ringStateFromJSON(json.ring), selfStatus: json.selfStatus, members: json.members ?? [] }
    } catch (err) {
      this.#logger.error({ err }, 'the stored cluster state does not parse; starting from --peers/--seeds and gossip')
      return { ring: undefined, selfStatus: undefined, members: [] }
    }
  }

  /** Store the state `snapshot` returns when the write starts (coalescing calls made meanwhile). */
  save (snapshot: () => StoredClusterState): void {
    this.#next = snapshot
    this.#writing ??= this.#drain()
  }

  /** Wait for the writes in flight (before the engine closes). */
  async flush (): Promise<void> {
    while (this.#writing !== undefined) await this.#writing
  }

  async #drain (): Promise<void> {
    try {
      while (this.#next !== undefined) {
        const state = this.#next()
        this.#next = undefined
        const json: StoredJSON = {
          ring: state.ring === undefined ? null : ringStateToJSON(state.ring),
          ...(state.selfStatus === undefined ? {} : { selfStatus: state.selfStatus }),
          members: [...state.members]
        }
        await this.#meta.put(CLUSTER_STATE_KEY, JSON.stringify(json), durable(true))
      }
    } catch (err) {
      this.#logger.error({ err }, 'storing the cluster state failed; it is stored again at the next change')
    } finally {
      this.#writing = undefined
    }
  }
}
