import type { Server, Socket } from 'node:net'

/** What a listener's per-address limit has done so far. */
export interface ConnectionLimitStats {
  /** Connections closed on arrival because their address already held the limit. */
  readonly refused: number
}

/**
 * Cap the connections one remote address holds open on `server` at `max`. A connection over the cap
 * is destroyed as soon as it is accepted: before its TLS handshake or first byte is read, so it costs
 * the node one accept and one close. `onRefused` hears the address, at most once a second per
 * address (a flood must not flood the log too).
 */
export function limitConnectionsPerAddress (server: Server, max: number, onRefused: (address: string, open: number) => void): ConnectionLimitStats {
  const open = new Map<string, number>()
  const lastTold = new Map<string, number>()
  const stats = { refused: 0 }
  server.on('connection', (socket: Socket) => {
    // An address of a socket already gone is undefined: nothing to count, node closes it.
    const address = socket.remoteAddress
    if (address === undefined) return
    const count = open.get(address) ?? 0
    if (count >= max) {
      stats.refused++
      socket.destroy()
      const now = Date.now()
      if ((lastTold.get(address) ?? 0) + 1_000 <= now) {
        lastTold.set(address, now)
        onRefused(address, count)
      }
      return
    }
    open.set(address, count + 1)
    socket.once('close', () => {
      const left = open.get(address)! - 1
      if (left === 0) { open.delete(address); lastTold.delete(address) } else open.set(address, left)
    })
  })
  return stats
}
