import { DIGEST_QUERY, HINT_FOR_QUERY, INTERNODE_PREFIX } from '../internode/internode-protocol.js'

/** Internode endpoints with sub-paths worth telling apart (a fixed set). */
const NESTED = new Set(['anti-entropy', 'gossip', 'partitions'])

/** Endpoints named by their first path segment. */
const KNOWN = new Set(['ping', 'prove', 'ring', 'faults', 'gossip', 'partitions', 'anti-entropy', 'engine-shape'])

/**
 * The label an internode call is counted under: what it does, never the key in its path, from a
 * fixed set (replica_read, replica_digest, replica_write, hint_write, forward_write, gossip, anti-entropy/roots, ...).
 */
export function internodeEndpoint (method: string, path: string): string {
  const rest = path.startsWith(INTERNODE_PREFIX) ? path.slice(INTERNODE_PREFIX.length) : path
  const slash = rest.indexOf('/')
  const mark = rest.indexOf('?')
  const first = rest.slice(0, slash === -1 ? (mark === -1 ? undefined : mark) : slash)
  if (first === 'replicas') {
    if (method === 'GET') return mark !== -1 && rest.slice(mark + 1).split('&').includes(DIGEST_QUERY) ? 'replica_digest' : 'replica_read'
    return mark !== -1 && rest.slice(mark + 1).split('&').some((p) => p.startsWith(`${HINT_FOR_QUERY}=`)) ? 'hint_write' : 'replica_write'
  }
  if (first === 'writes') return 'forward_write'
  if (!KNOWN.has(first)) return 'other'
  if (NESTED.has(first) && slash !== -1) {
    const second = rest.slice(slash + 1).split(/[/?]/)[0]!
    return /^[a-z-]{1,32}$/.test(second) ? `${first}/${second}` : first
  }
  return first
}
