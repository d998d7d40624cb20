import type { Request, Response } from 'express'
import { GatewayError } from '../error/gateway-error.js'
import { readBody } from './read-body.js'
import type { LifecycleAnswer } from '../membership/member-lifecycle.js'

/** What the join and leave routes need of the node: its lifecycle, absent on a node that is not a cluster member. */
export interface MemberRoutesOptions {
  readonly nodeId: string
  readonly lifecycle: {
    join (seed: unknown): Promise<LifecycleAnswer>
    leave (): LifecycleAnswer
    remove (member: unknown): Promise<LifecycleAnswer>
    replace (old: unknown, replacement: unknown): Promise<LifecycleAnswer>
  } | undefined
  readonly stopping: () => boolean
}

/** Largest body of a join request: {"seed": "host:port"}. */
const JOIN_BODY_LIMIT = 16 * 1024

function member (options: MemberRoutesOptions, action: string): NonNullable<MemberRoutesOptions['lifecycle']> {
  if (options.lifecycle === undefined) {
    throw new GatewayError('LEVELRING_NOT_A_CLUSTER_MEMBER',
      `node ${options.nodeId} runs alone (started without --peers id=host:port or --seeds): it cannot ${action}; ` +
      'restart it with --cluster-secret-file and --seeds host:port to make it a cluster member')
  }
  if (options.stopping()) throw new GatewayError('LEVELRING_SHUTTING_DOWN', `node ${options.nodeId} is shutting down`)
  return options.lifecycle
}

/** POST /v1/admin/join {"seed": "host:port"}: exchange gossip with a member of the cluster now; 200 with the node's status. */
export function joinRoute (options: MemberRoutesOptions) {
  return async function join (req: Request, res: Response): Promise<void> {
    const lifecycle = member(options, 'join a cluster')
    const seed = (await jsonBody(req, '{"seed": "host:port"}', 'seed'))?.seed
    res.status(200).json(await lifecycle.join(seed))
  }
}

/** The JSON object body of an admin request (empty: {}); anything else is a 400 naming `parameter`. */
async function jsonBody (req: Request, shape: string, parameter: string): Promise<Record<string, unknown> | null> {
  const body = await readBody(req, JOIN_BODY_LIMIT, '')
  try {
    return body.length === 0 ? {} : JSON.parse(body.toString('utf8')) as Record<string, unknown> | null
  } catch {
    throw new GatewayError('LEVELRING_INVALID_PARAMETER', `the body must be JSON: ${shape}`, { parameter })
  }
}

/** POST /v1/admin/remove {"member": "<id>"}: take a dead member out of the cluster; 202, the ring moves on once its replicas are streamed. */
export function removeRoute (options: MemberRoutesOptions) {
  return async function remove (req: Request, res: Response): Promise<void> {
    const lifecycle = member(options, 'remove a member')
    const body = await jsonBody(req, '{"member": "<id>"}', 'member')
    res.status(202).json(await lifecycle.remove(body?.member))
  }
}

/** POST /v1/admin/replace {"old": "<id>", "new": "<id>"}: remove a dead member in favour of one that joined; 202. */
export function replaceRoute (options: MemberRoutesOptions) {
  return async function replace (req: Request, res: Response): Promise<void> {
    const lifecycle = member(options, 'replace a member')
    const body = await jsonBody(req, '{"old": "<id>", "new": "<id>"}', 'old')
    res.status(202).json(await lifecycle.replace(body?.old, body?.new))
  }
}

/** POST /v1/admin/leave: start handing this node's partitions over; 202, the node exits once done. */
export function leaveRoute (options: MemberRoutesOptions) {
  return function leave (_req: Request, res: Response): void {
    res.status(202).json(member(options, 'leave a cluster').leave())
  }
}
