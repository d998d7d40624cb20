import type { RingMember } from '../ring/ring.js'

/** A node of the cluster: its id, ring weight and internode address (host:port). */
export interface Member extends RingMember {
  readonly address: string
}
