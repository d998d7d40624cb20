import { readFile } from 'node:fs/promises'
import { createServer, type RequestListener, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import { ApiContract } from '../http/contract.js'
import { createClusterRuntime, type ClusterRuntime } from './cluster-runtime.js'
import { configError, isClusterMember, peerAddresses, peerMembers, type NodeConfig } from './config.js'
import type { Coordinator } from '../coordination/coordinator.js'
import { createLogger } from './logger.js'
import { ReplicaStore } from '../replica/replica-store.js'
import { InternodeAuth } from '../internode/internode-auth.js'
import { internodeRoutes, type InternodeRouteOptions } from '../internode/internode-routes.js'
import { FrameServer, upgradeListener } from '../internode/frame-server.js'
import { InternodeBodyCaps } from '../internode/body-limits.js'
import { limitConnectionsPerAddress } from '../http/connection-limit.js'
import { loadNodeTls } from './node-tls.js'
import { createApp } from '../http/server.js'
import { SingleNodeCoordinator } from '../coordination/single-node-coordinator.js'
import { loadContextSecret } from './context-secret.js'
import { parseTokenFile } from './token-file.js'
import { DotCounter } from '../replica/dot-counter.js'
import { loadIdentity, type NodeIdentity } from './node-identity.js'
import { recordCleanStop } from './actor-epoch.js'
import { aliveMarkIntervalMs, assertNotStale, markAlive } from './alive-mark.js'
import { NodeStorage } from '../replica/node-storage.js'
import { ensureStorageFormat } from '../replica/storage-format.js'
import { KeyHashIndex } from '../anti-entropy/key-hash-index.js'
import { keyReplicas } from '../ring/key-replicas.js'
import { partitionOf } from '../ring/partition.js'
import { NodeMetrics } from '../metrics/node-metrics.js'
import { registerEngineMetrics, type EngineStats } from '../metrics/engine-metrics.js'
import { registerClusterMetrics } from '../metrics/cluster-metrics.js'
import { clusterReadiness } from '../http/readiness.js'
import { ringBody } from '../http/ring-route.js'
import { ENGINE_SHAPE_PATH, ENGINE_SHAPE_TIMEOUT_MS, engineShape, engineShapeRoute, engineShapes } from '../metrics/engine-shapes.js'

/** A started node: listening, serving, reaping tombstones. */
export interface RunningNode {
  /** host:port actually bound (the port is real even when 0 was asked for). */
  readonly address: string
  /** http://address, or https://address when the node serves TLS. */
  readonly url: string
  readonly identity: NodeIdentity
  readonly store: ReplicaStore
  /** The node's engine and its sublevels (objects, tombstone index, metadata; hints and Merkle trees next). */
  readonly storage: NodeStorage
  readonly server: Server
  /** The request listener the server runs (http/server.ts): tests drive it without a socket. */
  readonly listener: RequestListener
  /** The cluster side, when the node was started with cluster members (--peers id=host:port) or --seeds. */
  readonly cluster: ClusterRuntime | undefined
  /** Resolves once a cluster member has left the cluster (POST /v1/admin/leave) and handed everything over: time to exit. */
  readonly left: Promise<void> | undefined
  readonly logger: Logger
  /** The node's metrics (GET /metrics); undefined when started with --metrics off. */
  readonly metrics: NodeMetrics | undefined
  /** Stop accepting, let in-flight requests finish (at most `graceMs`), close the engine. Idempotent. */
  close (graceMs?: number): Promise<void>
}

/** Deleted keys one reaping pass inspects: bounds the work (and the key locks) of one pass. */
export const REAP_BATCH = 10_000

/** How long close() waits for in-flight requests before cutting connections. */
export const SHUTDOWN_GRACE_MS = 10_000

/** Open the node's storage and start serving `config.listen`. */
export async function startNode (config: NodeConfig, logger: Logger = createLogger(config.nodeId, config.logLevel)): Promise<RunningNode> {
  const storage = await NodeStorage.open(config.dataDir, undefined, {
    writeBufferSize: config.writeBufferSize, blockCacheSize: config.blockCacheSize, maxOpenFiles: config.maxOpenFiles
  })
  // Every mode keeps anti-entropy's key hash index, so a directory that served alone has it when it joins a cluster.
  const keyHashIndex = KeyHashIndex.attach(storage)
  try {
    // Before anything reads objects or hints: they must be in this release's layout.
    await ensureStorageFormat(storage, config.dataDir, logger)
    const identity = await loadIdentity(storage.meta, config.nodeId, config.dataDir)
    await assertNotStale(storage.meta, config.dataDir, identity.epochRenewed, config.tombstoneGraceMs)
    if (identity.epochRenewed !== undefined) {
      logger.warn({ actor: identity.actor, reason: identity.epochRenewed }, 'stamping writes with a new actor epoch')
    }
    await markAlive(storage.meta)
    const counter = await DotCounter.open(storage.meta)
    const clusterSecrets = config.clusterSecretFile === undefined ? undefined : await readSecrets(config.clusterSecretFile)
    const secret = await loadContextSecret(storage.meta, clusterSecrets?.[0])
    const authTokens = config.authTokenFile === undefined ? [] : await readTokens('authTokenFile', config.authTokenFile)
    const adminTokens = config.adminTokenFile === undefined ? [] : await readTokens('adminTokenFile', config.adminTokenFile)
    const tls = await loadNodeTls(config)
    const bodyCaps = new InternodeBodyCaps(config)
    // clockOffsetMs is a test facility (clock skew between nodes); 0 otherwise.
    const store = new ReplicaStore(storage, { actor: identity.actor, counter, logger, ...(config.clockOffsetMs === 0 ? {} : { now: () => Date.now() + config.clockOffsetMs }) })
    const metrics = config.metrics ? new NodeMetrics(config.nodeId) : undefined
    if (metrics !== undefined) registerEngineMetrics(metrics, { stats: () => storage.engineStats() as EngineStats | undefined, storedBytes: () => storage.storedBytes })
    let address = `${config.listen.host}:${config.listen.port}`
    // What the other members dial: the bound address unless the operator names another (a pod's DNS name).
    const advertised = (): string => config.advertise ?? address
    let stopping = false
    const auth = new InternodeAuth(clusterSecrets ?? [secret], config.nodeId)
    const cluster = !isClusterMember(config)
      ? undefined
      : await createClusterRuntime({ config, peers: peerMembers(config) ?? [], store, auth, address: advertised, logger, objects: storage.objects, storage, tls, metrics, behind: identity.behind })
    if (metrics !== undefined && cluster !== undefined) {
      const { membershipService, antiEntropy } = cluster
      registerClusterMetrics(metrics, {
        membership: cluster.membership,
        replicas: config.replicas,
        hints: () => ({ pending: membershipService.hints.pending(), delivered: membershipService.handoff.delivered, failed: membershipService.handoff.failed }),
        antiEntropy: () => antiEntropy.view(),
        transfers: () => membershipService.transfer.counts
      })
    }
    const coordinator: Coordinator = cluster?.coordinator ?? new SingleNodeCoordinator(store, {
      nodeId: config.nodeId, address: () => address, peers: peerAddresses(config), replicas: config.replicas, partitions: config.partitions
    })
    const ownShape = (): ReturnType<typeof engineShape> => engineShape(storage.engineStats() as EngineStats | undefined)
    const internodeOptions: InternodeRouteOptions = {
      nodeId: config.nodeId,
      auth,
      store,
      stamper: cluster?.coordinator,
      ringDigest: () => cluster?.ringDigest(),
      hints: cluster?.membershipService.hints,
      bodyCap: (method, path) => bodyCaps.capFor(method, path),
      requireClientCertificate: tls?.ca !== undefined,
      logger,
      faults: cluster?.faults,
      extensions: cluster === undefined ? undefined : [...cluster.internodeExtensions, engineShapeRoute(ownShape)],
      rebuilding: cluster === undefined ? undefined : (key) => cluster.recovery.rebuildingKey(key),
      index: keyHashIndex
    }
    const internode = internodeRoutes(internodeOptions)
    // Replica calls between members travel as frames on one upgraded connection per peer (internode/frame-codec.ts).
    const frames = new FrameServer({ ...internodeOptions, metrics, accessLog: config.accessLog, accessLogKeys: config.accessLogKeys })
    const listener = createApp({
      nodeId: config.nodeId,
      coordinator,
      contract: ApiContract.load(),
      contextSecret: clusterSecrets ?? secret,
      maxValueBytes: config.maxValueBytes,
      defaults: config.defaults,
      logger,
      authTokens,
      adminTokens,
      storage: storage.engineName,
      stopping: () => stopping,
      internode,
      lifecycle: cluster?.lifecycle,
      placement: (key) => cluster !== undefined
        ? keyReplicas(cluster.membership.ring(), config.replicas, key, (node) => cluster.membership.member(node)?.address)
        : { key, partition: partitionOf(key, config.partitions), replicas: [{ node: config.nodeId, zone: config.zone, address }] },
      repair: cluster === undefined ? undefined : async () => cluster.antiEntropy.repair(),
      clusterDetails: cluster === undefined ? undefined : () => {
        const leaving = cluster.lifecycle.leaveProgress()
        return { antiEntropy: cluster.antiEntropy.view(), recovery: cluster.recovery.view(), ...(leaving === undefined ? {} : { leaving }) }
      },
      metrics,
      accessLog: config.accessLog,
      accessLogKeys: config.accessLogKeys,
      readiness: cluster === undefined ? undefined : () => clusterReadiness(cluster.membership),
      ring: cluster === undefined
        ? () => ({ epoch: 0, partitions: config.partitions, replicas: 1, members: [config.nodeId], owners: new Array<number>(config.partitions).fill(0) })
        : () => ringBody(cluster.membership.ringState(), config.partitions, config.replicas),
      engines: async () => await engineShapes(config.nodeId, cluster === undefined ? [config.nodeId] : cluster.membership.members().map((m) => m.id), ownShape,
        async (node) => await cluster!.client.post(node, ENGINE_SHAPE_PATH, Buffer.alloc(0), 'application/json', ENGINE_SHAPE_TIMEOUT_MS)),
      dump: {
        nodeId: config.nodeId,
        // Inside the engine's directory (same file system, so tables link); the engine ignores names that are not its own.
        checkpointRoot: config.dataDir,
        checkpoint: async (dir) => await storage.checkpoint(dir),
        objects: () => storage.objectEntries(),
        contextSecret: clusterSecrets ?? secret,
        logger
      }
    })
    const serverOptions = {
      maxHeaderSize: config.maxHeaderBytes,
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: config.headersTimeoutMs,
      keepAliveTimeout: config.keepAliveTimeoutMs,
      // How often node looks for requests past their timeouts (its default, 30 s, lets slow clients linger).
      connectionsCheckingInterval: Math.min(1_000, config.headersTimeoutMs, config.requestTimeoutMs)
    }
    // With a CA, every client is asked for a certificate but the handshake never fails for want of
    // one: public clients need none, and /internal/v1/ refuses calls without a verified one.
    const server: Server = tls === undefined
      ? createServer(serverOptions, listener)
      : createHttpsServer({ ...serverOptions, cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: tls.ca !== undefined, rejectUnauthorized: false }, listener)
    server.on('upgrade', upgradeListener(frames, listener))
    limitConnectionsPerAddress(server, config.maxConnectionsPerPeer, (peer, open) => {
      logger.warn({ peer, open, limit: config.maxConnectionsPerPeer }, 'closed connections over the per-address limit (maxConnectionsPerPeer)')
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(config.listen.port, config.listen.host, () => { server.off('error', reject); resolve() })
    })
    const scheme = tls === undefined ? 'http' : 'https'
    const bound = server.address() as AddressInfo
    address = bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`
    await cluster?.start()

    let reapAfter: string | undefined // a pass is bounded; the next one resumes where it stopped
    let reaping: Promise<void> | undefined // one pass at a time: a cluster member's pass waits on other replicas
    const reaper = setInterval(() => {
      // A cluster member asks the key's other replicas first (a replica that missed the delete would resurrect it).
      reaping ??= store.reapTombstones(config.tombstoneGraceMs, { maxKeys: REAP_BATCH, after: reapAfter, mayReap: cluster?.mayReap }).then(
        ({ reaped, resumeAfter }) => {
          reapAfter = resumeAfter
          if (reaped > 0) logger.info({ reaped }, 'reaped tombstones')
        },
        (err: unknown) => logger.error({ err }, 'tombstone reaping failed')).finally(() => { reaping = undefined })
    }, config.reapIntervalMs)
    reaper.unref()
    const aliveMark = setInterval(() => { markAlive(storage.meta).catch((err: unknown) => logger.warn({ err }, 'could not renew the alive mark')) }, aliveMarkIntervalMs(config.tombstoneGraceMs))
    aliveMark.unref()

    let closing: Promise<void> | undefined
    const close = async (graceMs = SHUTDOWN_GRACE_MS): Promise<void> => {
      closing ??= (async () => {
        stopping = true
        // /v1/ready answers 503 from now on; serving a while longer lets load balancers notice first.
        if (config.readinessDrainMs > 0) await new Promise((resolve) => setTimeout(resolve, config.readinessDrainMs))
        clearInterval(reaper)
        clearInterval(aliveMark)
        const cut = setTimeout(() => server.closeAllConnections(), graceMs)
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        // Connections whose in-flight request just finished turn idle (keep-alive): close them as they do.
        const sweep = setInterval(() => server.closeIdleConnections(), 50)
        server.closeIdleConnections()
        await frames.close(graceMs) // upgraded connections are not the HTTP server's to close
        await closed
        clearInterval(sweep)
        clearTimeout(cut)
        await cluster?.close() // late replies and read repairs still write to the engine
        await reaping
        await markAlive(storage.meta)
        // Last: no dot is stamped after this, so the next start may keep the actor epoch.
        await recordCleanStop(storage.meta, config.dataDir, identity.epoch)
        await storage.close()
        logger.info('node stopped')
      })()
      return closing
    }
    logger.info({
      address, ...(config.advertise === undefined ? {} : { advertise: config.advertise }), actor: identity.actor, storage: storage.engineName, dataDir: config.dataDir, replicas: config.replicas,
      ...(cluster === undefined ? {} : { members: cluster.membership.members().map((m) => m.id), partitions: config.partitions }),
      url: `${scheme}://${address}`,
      ...(tls === undefined ? {} : { tls: tls.ca === undefined ? 'https' : 'https, mutual TLS between nodes' })
    }, `levelring node ${config.nodeId} listening on ${scheme}://${address}`)
    return { address, url: `${scheme}://${address}`, identity, store, storage, server, listener, cluster, left: cluster?.left, logger, metrics, close }
  } catch (err) {
    await storage.close()
    throw err
  }
}

/**
 * The cluster secrets in `path`, one a line (blank lines ignored): nodes sign with the first and
 * accept any, so a secret is rotated by rolling restarts (docs/operations.md).
 */
async function readSecrets (path: string): Promise<Buffer[]> {
  const lines = (await readFile(path, 'utf8')).split('\n').map((l) => l.trim()).filter((l) => l !== '')
  if (lines.length === 0) throw new Error(`${path} holds no cluster secret; write a long random string there (one secret a line)`)
  for (const [i, line] of lines.entries()) {
    if (line.length < 16) throw new Error(`cluster secret on line ${i + 1} of ${path} is shorter than 16 characters; write a long random string there`)
  }
  return lines.map((l) => Buffer.from(l, 'utf8'))
}

/** The bearer tokens of a token file (node/token-file.ts); unreadable or empty is LEVELRING_BAD_CONFIG naming `setting`. */
async function readTokens (setting: string, path: string): Promise<string[]> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw configError(setting, `cannot read ${path}: ${(err as Error).message}`)
  }
  const tokens = parseTokenFile(text)
  if (tokens.length === 0) throw configError(setting, `${path} holds no token; write one bearer token per line`)
  return tokens
}
