import { pino, type Logger } from 'pino'

/** The node's logger: JSON lines on stdout (pino), every line tagged with the node id. */
export function createLogger (nodeId: string, level: string): Logger {
  return pino({ level, base: { node: nodeId } })
}
