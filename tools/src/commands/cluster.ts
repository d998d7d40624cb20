import { type Command, Option } from 'commander'
import { positiveInteger } from '../cli-kit/common-options.js'
import { fieldLines } from '../cli-kit/field-lines.js'
import { CliFailure } from '../cli-kit/failure.js'
import { textTable } from '../cli-kit/text-table.js'
import type { KeyReplicas } from '../../../gateway/src/ring/placement.js'
import { Output } from '../cli-kit/output.js'
import { type ClusterView, type Health, memberLines, ringLines, statusLines } from './cluster/cluster-view.js'
import { failOnProblem, type NodeAnswer, type NodeClient } from './cluster/node-client.js'
import { clientCommand, clientToken, readTokenFile, withNode, type ClientFlags } from './cluster/client-flags.js'

/** The flags every cluster command takes. */
type ClusterFlags = ClientFlags

/** The membership and repair actions take an operator credential as well. */
interface AdminFlags extends ClusterFlags { adminTokenFile?: string }

/** Adds --node, --token-file, --timeout and --json (cluster/client-flags.ts). */
function clusterCommand (program: Command, name: string, description: string): Command {
  return clientCommand(program, name, description)
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
  return await readTokenFile('--admin-token-file', path)
}

async function clusterView (client: NodeClient): Promise<ClusterView> {
  const answer = await client.get('/v1/cluster')
  failOnProblem(client, 'GET /v1/cluster', answer)
  return answer.body as ClusterView
}

/**
 * Register `levelring status|members|ring|placement|repair|join|leave|remove|replace --node URL`: the cluster as
 * one node sees it (GET /v1/health, GET /v1/cluster, GET /v1/placement/{key}) and the admin actions
 * (POST /v1/admin/repair|join|leave|remove|replace).
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

  clusterCommand(program, 'placement', 'where a key lives: its partition and its n primary replicas with their zones (GET /v1/placement/{key})')
    .argument('<key>', 'the key (text, as in /v1/kv/{key})')
    .action(async (key: string, flags: ClusterFlags) => {
      await withNode(flags, async (client) => {
        const path = `/v1/placement/${encodeURIComponent(key)}`
        const answer = await client.get(path)
        failOnProblem(client, `GET ${path}`, answer)
        const placement = answer.body as KeyReplicas
        const out = new Output()
        if (flags.json === true) await out.json({ node: client.url, ...placement })
        else {
          await out.lines([`key ${JSON.stringify(placement.key)}: partition ${placement.partition}, ${placement.replicas.length} replicas in ${new Set(placement.replicas.map((r) => r.zone)).size} zones`,
            ...textTable([{ header: '#', align: 'right' }, { header: 'node' }, { header: 'zone' }, { header: 'address' }],
              placement.replicas.map((r, i) => [String(i + 1), r.node, r.zone, r.address]))])
        }
      })
    })

  adminCommand(program, 'repair', 'start an anti-entropy repair on the node (POST /v1/admin/repair)')
    .action(async (flags: AdminFlags) => { await admin(flags, 'repair', '/v1/admin/repair', {}) })

  adminCommand(program, 'join', 'make the node join a cluster through a seed member (POST /v1/admin/join)')
    .requiredOption('--seed <host:port>', 'a member of the cluster to join')
    .action(async (flags: AdminFlags & { seed: string }) => { await admin(flags, 'join', '/v1/admin/join', { seed: flags.seed }) })

  adminCommand(program, 'leave', 'make the node leave the cluster, handing its partitions over (POST /v1/admin/leave)')
    .option('--wait', 'return only once the node has handed everything over and exited (a Kubernetes preStop hook)')
    .option('--wait-timeout <ms>', 'with --wait: give up (exit 1) after this long', positiveInteger, 600_000)
    .action(async (flags: AdminFlags & { wait?: boolean, waitTimeout: number }) => {
      await admin(flags, 'leave', '/v1/admin/leave', {})
      if (flags.wait === true) await waitUntilGone(flags)
    })

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
  const token = flags.adminTokenFile === undefined || flags.adminTokenFile === '' ? await clientToken(flags) : await readAdminToken(flags.adminTokenFile)
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
  }, { token, tokenHint: `${ADMIN_TOKEN_HINT} (a node without admin tokens wants the client token, --token-file or LEVELRING_TOKEN, from its own machine)` })
}

/** How often `leave --wait` asks whether the node is still there. */
const LEAVE_POLL_MS = 1_000

/**
 * After a leave: poll the node until it no longer answers (it exits once it has left) or says it has
 * left; a CliFailure after `waitTimeout`.
 */
async function waitUntilGone (flags: AdminFlags & { waitTimeout: number }): Promise<void> {
  const deadline = Date.now() + flags.waitTimeout
  for (;;) {
    let status: string | undefined
    try {
      status = await withNode(flags, async (client) => {
        const answer = await client.get('/v1/cluster')
        return (answer.body as { node?: { status?: string } } | null)?.node?.status
      })
    } catch (err) {
      if (err instanceof CliFailure && err.code === 'LEVELRING_NODE_UNREACHABLE') break
      throw err
    }
    if (status === 'left') break
    if (Date.now() > deadline) {
      throw new CliFailure(`node ${flags.node} is still ${status ?? 'there'} after ${flags.waitTimeout} ms of leaving; it keeps handing over: watch levelring status`, { code: 'LEVELRING_TIMEOUT' })
    }
    await new Promise((resolve) => setTimeout(resolve, LEAVE_POLL_MS))
  }
  if (flags.json !== true) await new Output().lines([`left: ${flags.node} has handed everything over and stopped`])
}

/** A 404 that means "no such endpoint" (the gateway's route-not-found problem, or no problem type at all). */
function isRouteNotFound (body: unknown): boolean {
  const type = (body as { type?: unknown } | null)?.type
  return type === undefined || type === 'urn:levelring:problem:route-not-found'
}
