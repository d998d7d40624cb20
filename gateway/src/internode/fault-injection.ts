/**
 * A test facility: a switch in the internode transport that cuts this node off from chosen members,
 * so a test can split a running cluster into partitions and heal it again without touching the
 * network. It exists only on a node started with --enable-fault-injection (config
 * `enableFaultInjection`); without it the endpoint is a 404 and nothing is ever dropped.
 *
 *   GET /internal/v1/faults                   200 {"blocked": [ids]}
 *   PUT /internal/v1/faults {"blocked": [ids]} 200 {"blocked": [ids]}   ([] heals)
 *
 * Both need a signed call, like every internode endpoint. While a member is blocked, every
 * internode call this node makes to it fails at once, as a refused connection would (nothing is
 * sent), and every internode call arriving from it (named by the SIGNED_HEADERS.caller every call carries)
 * has its connection destroyed unanswered, as a dropped one would. Flip the switch on both sides
 * of the cut. Client traffic (/v1/) is never affected: clients on either side keep reaching their
 * node, which is the point of a partition test.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import { GatewayError } from '../error/gateway-error.js'
import { SIGNED_HEADERS } from './internode-auth.js'
import { INTERNODE_PREFIX } from './internode-protocol.js'
import type { BodyReader } from './internode-routes.js'

export const FAULTS_PATH = `${INTERNODE_PREFIX}faults`

/** Largest body of a faults PUT: a list of member ids. */
export const FAULTS_BODY_LIMIT = 64 * 1024

/** The members this node is cut off from. */
export class FaultInjector {
  #blocked: ReadonlySet<string> = new Set()

  /** True when internode traffic with `id` is cut. */
  blocks (id: string): boolean {
    return this.#blocked.has(id)
  }

  /** True when the call's caller (SIGNED_HEADERS.caller) is cut off. */
  refuses (headers: IncomingHttpHeaders): boolean {
    const caller = headers[SIGNED_HEADERS.caller]
    return typeof caller === 'string' && this.#blocked.has(caller)
  }

  get blocked (): string[] {
    return [...this.#blocked].sort()
  }

  /** Cut traffic with exactly these members (an empty list heals). */
  set (ids: readonly string[]): void {
    this.#blocked = new Set(ids)
  }
}

/** The handler of FAULTS_PATH on a node with fault injection enabled. */
export function faultRoutes (injector: FaultInjector): (req: IncomingMessage, res: ServerResponse, readBody: BodyReader) => Promise<void> {
  return async function faults (req, res, readBody) {
    if (req.method === 'PUT') {
      const body = await readBody(FAULTS_BODY_LIMIT)
      let parsed: unknown
      try { parsed = JSON.parse(body.toString('utf8')) } catch { parsed = undefined }
      const blocked = (parsed as { blocked?: unknown } | undefined)?.blocked
      if (!Array.isArray(blocked) || !blocked.every((id) => typeof id === 'string')) {
        throw new GatewayError('LEVELRING_INVALID_PARAMETER', 'the body must be {"blocked": ["member id", ...]} ([] heals every cut)', { parameter: 'blocked' })
      }
      injector.set(blocked as string[])
    } else if (req.method !== 'GET') {
      res.setHeader('Allow', 'GET, PUT')
      throw new GatewayError('LEVELRING_METHOD_NOT_ALLOWED', 'use GET or PUT on the faults endpoint')
    }
    const answer = Buffer.from(JSON.stringify({ blocked: injector.blocked }))
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(answer.length) }).end(answer)
  }
}
