import { type Command, Option } from 'commander'
import { positiveInteger } from '../cli-kit/common-options.js'
import { fieldLines } from '../cli-kit/field-lines.js'
import { CliFailure } from '../cli-kit/failure.js'
import { Output } from '../cli-kit/output.js'
import { type ClusterView, type Health, memberLines, ringLines, statusLines } from './cluster/cluster-view.js'
import { failOnProblem, NodeClient, type NodeAnswer, type NodeTarget } from './cluster/node-client.js'

/** The flags every cluster command takes. */
interface ClusterFlags { node: string, token?: string, timeout: number, json?: boolean }

/** Where a node is when --node is not given: the first node of `npm start`'s local cluster. */
const DEFAULT_NODE = 'http://127.0.0.1:7001'

/** Every cluster command's names: `levelring <name> --node URL`. */
export const CLUSTER_COMMANDS = ['status', 'members', 'ring', 'repair', 'join', 'leave'] as const

/** Adds --node, --token, --timeout and --json. */
function clusterCommand (program: Command, name: string, description: string): Command {
  return program.command(name)
    .description(description)
    .addOption(new Option('--node <url>', 'the node to ask: URL or host:port').env('LEVELRING_NODE').default(DEFAULT_NODE))
    .addOption(new Option('--token <token>', 'bearer token, when the node runs with --auth-token-file').env('LEVELRING_TOKEN'))
    .addOption(new Option('--timeout <ms>', 'milliseconds to wait for the node').default(5000).argParser(positiveInteger))
    .option('--json', 'print what the node answered as one JSON document')
}

/** Runs fn with a client for the node the flags name, closing it afterwards. */
async function withNode<T> (flags: ClusterFlags, fn: (client: NodeClient) => Promise<T>): Promise<T> {
  const target: NodeTarget = { url: flags.node, token: flags.token, timeoutMs: flags.timeout }
  const client = new NodeClient(target)
  try {
    return await fn(client)
  } finally {
    await client.close()
  }
}

async function clusterView (client: NodeClient): Promise<ClusterView> {
  const answer = await client.get('/v1/cluster')
  failOnProblem(client, 'GET /v1/cluster', answer)
  return answer.body as ClusterView
}

/**
 * Register `levelring status|members|ring|repair|join|leave --node URL`: the cluster as one node sees it
 * (GET /v1/health, GET /v1/cluster) and the admin actions (POST /v1/admin/repair|join|leave).
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

  clusterCommand(program, 'repair', 'start an anti-entropy repair on the node (POST /v1/admin/repair)')
    .action(async (flags: ClusterFlags) => { await admin(flags, 'repair', '/v1/admin/repair', {}) })

  clusterCommand(program, 'join', 'make the node join a cluster through a seed member (POST /v1/admin/join)')
    .requiredOption('--seed <host:port>', 'a member of the cluster to join')
    .action(async (flags: ClusterFlags & { seed: string }) => { await admin(flags, 'join', '/v1/admin/join', { seed: flags.seed }) })

  clusterCommand(program, 'leave', 'make the node leave the cluster, handing its partitions over (POST /v1/admin/leave)')
    .action(async (flags: ClusterFlags) => { await admin(flags, 'leave', '/v1/admin/leave', {}) })
}

/** POSTs an admin action and shows the answer; a node without the endpoint (404) is one clear line. */
async function admin (flags: ClusterFlags, action: string, path: string, body: unknown): Promise<void> {
  await withNode(flags, async (client) => {
    const answer: NodeAnswer = await client.post(path, body)
    if (answer.status === 404 && isRouteNotFound(answer.body)) {
      throw new CliFailure(`this node does not support ${action}: ${client.url} answered POST ${path} with 404 (no such endpoint); it runs a levelring without the admin endpoints`,
        { code: 'LEVELRING_NOT_SUPPORTED' })
    }
    failOnProblem(client, `POST ${path}`, answer)
    const out = new Output()
    if (flags.json === true) await out.json({ node: client.url, action, status: answer.status, answer: answer.body })
    else await out.lines([`${action}: ${client.url} answered ${answer.status}`, ...(answer.body === null ? [] : fieldLines(answer.body, '  '))])
  })
}

/** A 404 that means "no such endpoint" (the gateway's route-not-found problem, or no problem type at all). */
function isRouteNotFound (body: unknown): boolean {
  const type = (body as { type?: unknown } | null)?.type
  return type === undefined || type === 'urn:levelring:problem:route-not-found'
}
