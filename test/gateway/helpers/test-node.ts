import { DEFAULT_CONFIG, type NodeConfig } from '../../../gateway/src/node/config.js'
import type { Logger } from 'pino'
import { createLogger } from '../../../gateway/src/node/logger.js'
import { startNode, type RunningNode } from '../../../gateway/src/node/start-node.js'
import { makeTempDir, removeDir } from '../../support/temp-dir.js'

/** A real node on 127.0.0.1 (free port) over lsm-level files in a fresh temp directory. */
export interface TestNode extends RunningNode {
  readonly dataDir: string
  /** Close the node; `keepData` leaves the directory for a restart. */
  stop (options?: { keepData?: boolean }): Promise<void>
}

/** Start a node for a test; overrides change any NodeConfig setting. */
export async function startTestNode (overrides: Partial<NodeConfig> = {}, dataDir?: string, logger?: Logger): Promise<TestNode> {
  const dir = dataDir ?? makeTempDir('levelring-gw')
  const config: NodeConfig = {
    ...DEFAULT_CONFIG,
    listen: { host: '127.0.0.1', port: 0 },
    dataDir: dir,
    tombstoneGraceMs: 60_000,
    ...overrides
  }
  const node = await startNode(config, logger ?? createLogger(config.nodeId, 'silent'))
  return Object.assign(Object.create(null) as object, node, {
    dataDir: dir,
    async stop (options: { keepData?: boolean } = {}): Promise<void> {
      await node.close(2_000)
      if (options.keepData !== true) removeDir(dir)
    }
  }) as TestNode
}
