/**
 * A test facility: a switch in the internode transport that cuts this node off from chosen members,
 * so a test can split a running cluster into partitions and heal it again without touching the
 * network, and that delays its calls to chosen members, so a test can put zones "far apart" on
 * loopback. It exists only on a node started with --enable-fault-injection (config
 * `enableFaultInjection`); without it the endpoint is a 404 and nothing is ever dropped or delayed.
 *
 *   GET /internal/v1/faults       200 {"blocked": [ids], "delayMs": {id: ms}}   (delayMs only when set)
 *   PUT /internal/v1/faults {"blocked": [ids], "delayMs": {id: ms}}   the whole state: an absent
 *                                 field is empty ({"blocked": []} heals every cut and delay)
 *
 * A delay of d ms for a member holds every internode call this node makes to it for d ms before
 * it is sent: the call's round trip grows by d, as if the member were d ms of round trip further
 * away. Set it on both sides to make the distance symmetric.
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

/** Longest delay a test may set: enough for any distance on Earth, short of a request's deadline. */
export const MAX_FAULT_DELAY_MS = 10_000

/** The members this node is cut off from. */
export class FaultInjector {
  #blocked: ReadonlySet<string> = new Set()
  #delays: ReadonlyMap<string, number> = new Map()

  /** Milliseconds to hold each internode call to `id` before sending it (0: none). */
  delayFor (id: string): number {
    return this.#delays.get(id) ?? 0
  }

  /** The delays as GET shows them, by member id. */
  get delays (): Record<string, number> {
    return Object.fromEntries([...this.#delays].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  }

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

  /** Cut traffic with exactly these members and delay calls to exactly these (empty ones heal). */
  set (ids: readonly string[], delays: Readonly<Record<string, number>> = {}): void {
    this.#blocked = new Set(ids)
    this.#delays = new Map(Object.entries(delays).filter(([, ms]) => ms > 0))
  }
}

/** The handler of FAULTS_PATH on a node with fault injection enabled. */
export function faultRoutes (injector: FaultInjector): (req: IncomingMessage, res: ServerResponse, readBody: BodyReader) => Promise<void> {
  return async function faults (req, res, readBody) {
    if (req.method === 'PUT') {
      const body = await readBody(FAULTS_BODY_LIMIT)
      let parsed: unknown
      try { parsed = JSON.parse(body.toString('utf8')) } catch { parsed = undefined }
      const fields = parsed as { blocked?: unknown, delayMs?: unknown } | undefined
      const blocked = fields?.blocked ?? (fields?.delayMs === undefined ? undefined : [])
      if (!Array.isArray(blocked) || !blocked.every((id) => typeof id === 'string')) {
        throw new GatewayError('LEVELRING_INVALID_PARAMETER', 'the body must be {"blocked": ["member id", ...], "delayMs": {"member id": ms}} ([] heals every cut)', { parameter: 'blocked' })
      }
      const delays = fields?.delayMs ?? {}
      if (delays === null || typeof delays !== 'object' || Array.isArray(delays) ||
        !Object.values(delays).every((ms) => Number.isSafeInteger(ms) && (ms as number) >= 0 && (ms as number) <= MAX_FAULT_DELAY_MS)) {
        throw new GatewayError('LEVELRING_INVALID_PARAMETER', `delayMs must map member ids to whole milliseconds from 0 to ${MAX_FAULT_DELAY_MS}`, { parameter: 'delayMs' })
      }
      injector.set(blocked as string[], delays as Record<string, number>)
    } else if (req.method !== 'GET') {
      res.setHeader('Allow', 'GET, PUT')
      throw new GatewayError('LEVELRING_METHOD_NOT_ALLOWED', 'use GET or PUT on the faults endpoint')
    }
    const delays = injector.delays
    const answer = Buffer.from(JSON.stringify({ blocked: injector.blocked, ...(Object.keys(delays).length === 0 ? {} : { delayMs: delays }) }))
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(answer.length) }).end(answer)
  }
}
