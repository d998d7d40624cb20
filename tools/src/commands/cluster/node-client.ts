import { Agent, request } from 'undici'
import { CliFailure } from '../../cli-kit/failure.js'

/** Where and how to reach a node: what every cluster command's flags resolve to. */
export interface NodeTarget {
  /** Base URL, e.g. http://127.0.0.1:7001 (a bare host:port gets http://, or https:// with `ca`). */
  url: string
  /** PEM CA to verify an https node's certificate with (the cluster's --tls-ca, or whatever signed the node's --tls-cert). */
  ca?: Buffer
  /** Bearer token, sent as `Authorization: Bearer <token>` when set. */
  token?: string
  /** How the operator gives the token, said when the node answers 401 (default: the client token's flags). */
  tokenHint?: string
  /** Milliseconds to wait to connect, and then for each of the headers and the body. */
  timeoutMs: number
}

/** A 2xx answer: its status and parsed JSON body. */
export interface NodeAnswer { status: number, body: unknown }

/** What an RFC 9457 problem document from the gateway holds (openapi/levelring.yaml, `Problem`). */
interface Problem { type?: string, title?: string, detail?: string }

/** What the OS or undici says when a node cannot be reached, in an operator's words. */
const UNREACHABLE: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'no such host',
  EHOSTUNREACH: 'host unreachable',
  ECONNRESET: 'connection reset',
  UND_ERR_CONNECT_TIMEOUT: 'timed out connecting',
  UND_ERR_HEADERS_TIMEOUT: 'timed out waiting for the answer',
  UND_ERR_BODY_TIMEOUT: 'timed out reading the answer',
  UND_ERR_SOCKET: 'the connection failed',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its TLS certificate is not signed by a CA this command trusts (pass --ca with the cluster\'s CA)',
  SELF_SIGNED_CERT_IN_CHAIN: 'its TLS certificate is not signed by a CA this command trusts (pass --ca with the cluster\'s CA)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its TLS certificate is self-signed (pass it as --ca)',
  ERR_TLS_CERT_ALTNAME_INVALID: 'its TLS certificate is not valid for this host name or address',
  EPROTO: 'the TLS handshake failed (does the node serve TLS? http:// vs https://)',
  ERR_SSL_WRONG_VERSION_NUMBER: 'it does not speak TLS (use http://)'
}

/**
 * A client of one node's admin surface (GET /v1/health, GET /v1/cluster, POST /v1/admin/*). Every failure
 * is a CliFailure naming the node and saying what to do: unreachable, 401 (token), or the node's problem.
 */
export class NodeClient {
  readonly url: string
  readonly #token: string | undefined
  readonly #tokenHint: string
  readonly #timeoutMs: number
  readonly #agent: Agent

  constructor (target: NodeTarget) {
    this.url = normalizeNodeUrl(target.url, target.ca === undefined ? 'http' : 'https')
    this.#token = target.token
    this.#tokenHint = target.tokenHint ?? 'pass --token or set LEVELRING_TOKEN'
    this.#timeoutMs = target.timeoutMs
    // A private agent, closed when done: the command exits at once instead of holding a keep-alive socket.
    this.#agent = new Agent({ connect: { timeout: target.timeoutMs, ...(target.ca === undefined ? {} : { ca: target.ca }) } })
  }

  /** GET path; the answer of any status (404 included), or a CliFailure for other failures. */
  async get (path: string): Promise<NodeAnswer> {
    return await this.#send('GET', path, undefined)
  }

  /** POST path with a JSON body. */
  async post (path: string, body: unknown): Promise<NodeAnswer> {
    return await this.#send('POST', path, body)
  }

  async close (): Promise<void> {
    await this.#agent.close()
  }

  async #send (method: 'GET' | 'POST', path: string, body: unknown): Promise<NodeAnswer> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (this.#token !== undefined && this.#token !== '') headers.authorization = `Bearer ${this.#token}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    let res
    try {
      res = await request(this.url + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        dispatcher: this.#agent,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs
      })
    } catch (err) {
      const code = (err as { code?: string }).code ?? ''
      throw new CliFailure(`cannot reach node ${this.url} (${method} ${path}): ${UNREACHABLE[code] ?? (err as Error).message}${code === '' ? '' : ` (${code})`}; is it running, and is --node right?`,
        { code: 'LEVELRING_NODE_UNREACHABLE' })
    }
    const text = await res.body.text()
    let parsed: unknown
    try {
      parsed = text === '' ? null : JSON.parse(text)
    } catch {
      throw new CliFailure(`node ${this.url} answered ${method} ${path} with ${res.statusCode} and a body that is not JSON: ${JSON.stringify(text.slice(0, 80))}; is --node a levelring node?`,
        { code: 'LEVELRING_BAD_ANSWER' })
    }
    if (res.statusCode === 401) {
      const p = parsed as Problem | null
      throw new CliFailure(`node ${this.url} refused ${method} ${path}: 401 ${p?.detail ?? p?.title ?? 'unauthorized'}; ${this.#tokenHint}`,
        { code: 'LEVELRING_UNAUTHORIZED' })
    }
    return { status: res.statusCode, body: parsed }
  }
}

/** Throws a CliFailure describing a non-2xx answer (the node's problem title and detail). */
export function failOnProblem (client: NodeClient, what: string, answer: NodeAnswer): void {
  if (answer.status >= 200 && answer.status < 300) return
  const p = answer.body as Problem | null
  throw new CliFailure(`node ${client.url}: ${what} answered ${answer.status}${p?.title === undefined ? '' : ` ${p.title}`}${p?.detail === undefined ? '' : `: ${p.detail}`}`,
    { code: 'LEVELRING_NODE_ERROR' })
}

/** "host:port" (given `scheme`) or a URL, as a base URL without a trailing slash; a CliFailure if it is neither. */
export function normalizeNodeUrl (given: string, scheme: 'http' | 'https' = 'http'): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(given) ? given : `${scheme}://${given}`
  let url: URL
  try {
    url = new URL(withScheme)
  } catch {
    throw new CliFailure(`--node ${given} is not a URL or host:port`, { code: 'LEVELRING_BAD_ARGUMENT' })
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliFailure(`--node ${given}: only http and https are supported`, { code: 'LEVELRING_BAD_ARGUMENT' })
  return url.toString().replace(/\/+$/, '')
}
