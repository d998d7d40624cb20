import { readFile } from 'node:fs/promises'
import { type Command, Option } from 'commander'
import { parseTokenFile } from '../../../gateway/src/node/token-file.js'
import { positiveInteger } from '../cli-kit/common-options.js'
import { fieldLines } from '../cli-kit/field-lines.js'
import { CliFailure } from '../cli-kit/failure.js'
import { Output } from '../cli-kit/output.js'
import { type ClusterView, type Health, memberLines, ringLines, statusLines } from './cluster/cluster-view.js'
import { failOnProblem, NodeClient, type NodeAnswer, type NodeTarget } from './cluster/node-client.js'

/** The flags every cluster command takes. */
interface ClusterFlags { node: string, token?: string, ca?: string, timeout: number, json?: boolean }

/** The membership and repair actions take an operator credential as well. */
interface AdminFlags extends ClusterFlags { adminTokenFile?: string }

/** Where a node is when --node is not given: the first node of `npm start`'s local cluster (over https with --ca). */
const DEFAULT_NODE = '127.0.0.1:7001'

/** Every cluster command's names: `levelring <name> --node URL`. */
export const CLUSTER_COMMANDS = ['status', 'members', 'ring', 'repair', 'join', 'leave', 'remove', 'replace'] as const

/** Adds --node, --token, --timeout and --json. */
function clusterCommand (program: Command, name: string, description: string): Command {
  return program.command(name)
    .description(description)
    .addOption(new Option('--node <url>', 'the node to ask: URL or host:port').env('LEVELRING_NODE').default(DEFAULT_NODE))
    .addOption(new Option('--token <token>', 'bearer token, when the node runs with --auth-token-file').env('LEVELRING_TOKEN'))
    .addOption(new Option('--ca <file>', 'PEM CA that signed the node\'s TLS certificate (its --tls-ca): talk https, a bare host:port included').env('LEVELRING_CA'))
    .addOption(new Option('--timeout <ms>', 'milliseconds to wait for the node').default(5000).argParser(positiveInteger))
    .option('--json', 'print what the node answered as one JSON document')
}

/**
 * Adds --admin-token-file (and LEVELRING_ADMIN_TOKEN_FILE) to a cluster command: a file, never the token
 * itself, so the token stays out of the process list and the shell history.
 */
function adminCommand (program: Command, name: string, description: string): Command {
  return clusterCommand(program, name, description)
    .addOption(new Option('--admin-token-file <file>', 'file holding an admin token of the node (its --admin-token-file) on its first line; ' +
      'needed unless the node runs without admin tokens and this command runs on its machine').env('LEVELRING_ADMIN_TOKEN_FILE'))
}

/** The token to send from --admin-token-file: the file's first token (node/token-file.ts's format). */
async function readAdminToken (path: string): Promise<string> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new CliFailure(`--admin-token-file ${path}: cannot read it: ${(err as Error).message}`, { code: 'LEVELRING_BAD_ARGUMENT' })
  }
  const token = parseTokenFile(text)[0]
  if (token === undefined) throw new CliFailure(`--admin-token-file ${path} holds no token; write the admin token on its first line`, { code: 'LEVELRING_BAD_ARGUMENT' })
  return token
}

/** Runs fn with a client for the node the flags name, closing it afterwards; `target` overrides what the flags say. */
async function withNode<T> (flags: ClusterFlags, fn: (client: NodeClient) => Promise<T>, target: Partial<NodeTarget> = {}): Promise<T> {
  const ca = flags.ca === undefined || flags.ca === '' ? undefined : await readCa(flags.ca)
  const client = new NodeClient({ url: flags.node, token: flags.token, timeoutMs: flags.timeout, ca, ...target })
  try {
    return await fn(client)
  } finally {
    await client.close()
  }
}

/** The PEM of --ca; unreadable or not PEM is a CliFailure. */
async function readCa (path: string): Promise<Buffer> {
  let pem: Buffer
  try {
    pem = await readFile(path)
  } catch (err) {
    throw new CliFailure(`--ca ${path}: cannot read it: ${(err as Error).message}`, { code: 'LEVELRING_BAD_ARGUMENT' })
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new CliFailure(`--ca ${path} holds no PEM certificate`, { code: 'LEVELRING_BAD_ARGUMENT' })
  return pem
}

async function clusterView (client: NodeClient): Promise<ClusterView> {
  const answer = await client.get('/v1/cluster')
  failOnProblem(client, 'GET /v1/cluster', answer)
  return answer.body as ClusterView
}

/**
 * Register `levelring status|members|ring|repair|join|leave|remove|replace --node URL`: the cluster as one
 * node sees it (GET /v1/health, GET /v1/cluster) and the admin actions (POST /v1/admin/repair|join|leave|remove|replace).
 */
export function registerCluster (program: Command): void {
  clusterCommand(program, 'status', 'the node\'s health and its view of the cluster: members by state, ring, hints, anti-entropy')
    .action(async (flags: ClusterFlags) => {
      await withNode(flags, async (client) => {
        const health = await client.get('/v1/health')
        // 503 is a documented answer: the node is shutting down; its body still says so.
        if (health.status !== 503) failOnProblem(client, 'GET /v1/health', health)
        const view = await clusterView(client)
        const out = new Output()
        if (flags.json === true) await out.json({ node: client.url, health: health.body, cluster: view })
        else await out.lines(statusLines(client.url, health.body as Health, view))
      })
    })

  clusterCommand(program, 'members', 'the members of the cluster and their state, as the node sees them')
    .action(async (flags: ClusterFlags) => {
      await withNode(flags, async (client) => {
        const view = await clusterView(client)
        const out = new Output()
        if (flags.json === true) await out.json({ node: client.url, members: [view.node, ...view.peers] })
        else await out.lines(memberLines(view))
      })
    })

  clusterCommand(program, 'ring', 'the ring: partitions owned by each node and the replication factor')
    .action(async (flags: ClusterFlags) => {
      await withNode(flags, async (client) => {
        const view = await clusterView(client)
        const out = new Output()
        if (flags.json === true) await out.json({ node: client.url, ring: view.ring })
        else await out.lines(ringLines(view))
      })
    })

  adminCommand(program, 'repair', 'start an anti-entropy repair on the node (POST /v1/admin/repair)')
    .action(async (flags: AdminFlags) => { await admin(flags, 'repair', '/v1/admin/repair', {}) })

  adminCommand(program, 'join', 'make the node join a cluster through a seed member (POST /v1/admin/join)')
    .requiredOption('--seed <host:port>', 'a member of the cluster to join')
    .action(async (flags: AdminFlags & { seed: string }) => { await admin(flags, 'join', '/v1/admin/join', { seed: flags.seed }) })

  adminCommand(program, 'leave', 'make the node leave the cluster, handing its partitions over (POST /v1/admin/leave)')
    .action(async (flags: AdminFlags) => { await admin(flags, 'leave', '/v1/admin/leave', {}) })

  adminCommand(program, 'remove', 'take a dead member out of the cluster; ask any other member (POST /v1/admin/remove)')
    .argument('<member>', 'the id of the member that will not come back')
    .action(async (member: string, flags: AdminFlags) => { await admin(flags, 'remove', '/v1/admin/remove', { member }) })

  adminCommand(program, 'replace', 'take a dead member out in favour of a new member that has joined (POST /v1/admin/replace)')
    .argument('<old>', 'the id of the dead member')
    .argument('<new>', 'the id of the member that takes its share (started with --seeds)')
    .action(async (old: string, replacement: string, flags: AdminFlags) => { await admin(flags, 'replace', '/v1/admin/replace', { old, new: replacement }) })
}

/** What to do when the node refuses an admin action for want of the operator credential. */
const ADMIN_TOKEN_HINT = 'pass --admin-token-file FILE (or set LEVELRING_ADMIN_TOKEN_FILE) with one of the node\'s admin tokens'

/**
 * POSTs an admin action with the admin token (the client token when there is none: a node without admin
 * tokens answers its loopback callers with the client check alone) and shows the answer; a refusal (401,
 * 403) and a node without the endpoint (404) are one clear line.
 */
async function admin (flags: AdminFlags, action: string, path: string, body: unknown): Promise<void> {
  const token = flags.adminTokenFile === undefined || flags.adminTokenFile === '' ? flags.token : await readAdminToken(flags.adminTokenFile)
  await withNode(flags, async (client) => {
    const answer: NodeAnswer = await client.post(path, body)
    if (answer.status === 403) {
      const detail = (answer.body as { detail?: unknown } | null)?.detail
      throw new CliFailure(`node ${client.url} refused ${action} (POST ${path}): 403 ${typeof detail === 'string' ? detail : 'forbidden'}; ${ADMIN_TOKEN_HINT}`,
        { code: 'LEVELRING_FORBIDDEN' })
    }
    if (answer.status === 404 && isRouteNotFound(answer.body)) {
      throw new CliFailure(`this node does not support ${action}: ${client.url} answered POST ${path} with 404 (no such endpoint); it runs a levelring without the admin endpoints`,
        { code: 'LEVELRING_NOT_SUPPORTED' })
    }
    failOnProblem(client, `POST ${path}`, answer)
    const out = new Output()
    if (flags.json === true) await out.json({ node: client.url, action, status: answer.status, answer: answer.body })
    else await out.lines([`${action}: ${client.url} answered ${answer.status}`, ...(answer.body === null ? [] : fieldLines(answer.body, '  '))])
  }, { token, tokenHint: `${ADMIN_TOKEN_HINT} (a node without admin tokens wants --token, from its own machine)` })
}

/** A 404 that means "no such endpoint" (the gateway's route-not-found problem, or no problem type at all). */
function isRouteNotFound (body: unknown): boolean {
  const type = (body as { type?: unknown } | null)?.type
  return type === undefined || type === 'urn:levelring:problem:route-not-found'
}
