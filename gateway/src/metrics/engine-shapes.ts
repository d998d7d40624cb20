import type { IncomingMessage, ServerResponse } from 'node:http'
import { GatewayError } from '../error/gateway-error.js'
import { INTERNODE_PREFIX } from '../internode/internode-protocol.js'
import type { InternodeExtension } from '../internode/internode-routes.js'
import type { EngineStats } from './engine-metrics.js'

/** The internode endpoint a node answers its engine's shape at (POST, empty body). */
export const ENGINE_SHAPE_PATH = `${INTERNODE_PREFIX}engine-shape`

/** How long a peer may take to answer it: the dashboard polls every 2 s. */
export const ENGINE_SHAPE_TIMEOUT_MS = 1_500

/** One node's LSM shape, as the dashboard draws it. */
export interface EngineShape {
  readonly levels: ReadonlyArray<{ readonly level: number, readonly files: number, readonly bytes: number }>
  readonly memtableBytes: number
  readonly pendingCompactionBytes: number
}

/** GET /v1/engines: every member's engine shape, or why it could not be had. */
export interface EngineShapesBody {
  readonly nodes: ReadonlyArray<{ readonly id: string } & (EngineShape | { readonly error: string })>
}

/** The shape of an engine from its statistics (undefined: closed, or an engine without them). */
export function engineShape (stats: EngineStats | undefined): EngineShape | undefined {
  if (stats === undefined) return undefined
  return {
    levels: stats.levels.map(({ level, files, bytes }) => ({ level, files, bytes })),
    memtableBytes: stats.memtableBytes,
    pendingCompactionBytes: stats.pendingCompactionBytes
  }
}

/** The internode endpoint that answers this node's engine shape (JSON). */
export function engineShapeRoute (shape: () => EngineShape | undefined): InternodeExtension {
  return {
    prefix: ENGINE_SHAPE_PATH,
    async handle (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
      if (path !== ENGINE_SHAPE_PATH || req.method !== 'POST') {
        throw new GatewayError('LEVELRING_ROUTE_NOT_FOUND', `no internode endpoint ${req.method ?? ''} ${path}; use POST ${ENGINE_SHAPE_PATH}`)
      }
      const body = Buffer.from(JSON.stringify(shape() ?? null))
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(body.length) }).end(body)
    }
  }
}

/**
 * Every member's engine shape: this node's read directly, the others' asked over the internode
 * endpoint at once, each bounded by ENGINE_SHAPE_TIMEOUT_MS; a member that does not answer shows why.
 */
export async function engineShapes (selfId: string, members: readonly string[], own: () => EngineShape | undefined,
  ask: (node: string) => Promise<Buffer>): Promise<EngineShapesBody> {
  const nodes = await Promise.all(members.map(async (id) => {
    try {
      const shape = id === selfId ? own() : JSON.parse((await ask(id)).toString('utf8')) as EngineShape | null
      return shape === undefined || shape === null ? { id, error: 'the engine keeps no statistics' } : { id, ...shape }
    } catch (err) {
      return { id, error: (err as Error).message }
    }
  }))
  return { nodes }
}
