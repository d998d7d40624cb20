// Small fetch wrappers the cluster tests share: the public API of one node, by key and query.
import { sleep } from '../../support/process.js'

/** PUT a text value; `context` is the X-Causal-Context to send, if any. */
export async function putText (url: string, key: string, value: string, query = '', context?: string): Promise<Response> {
  return fetch(`${url}/v1/kv/${encodeURIComponent(key)}${query === '' ? '' : '?' + query}`, {
    method: 'PUT', body: value, headers: { 'Content-Type': 'text/plain', ...(context === undefined ? {} : { 'X-Causal-Context': context }) }
  })
}

/** GET a key (with `Accept: application/json` when `json`). */
export async function getKey (url: string, key: string, query = '', json = false): Promise<Response> {
  return fetch(`${url}/v1/kv/${encodeURIComponent(key)}${query === '' ? '' : '?' + query}`, { headers: json ? { Accept: 'application/json' } : {} })
}

/** The sibling values of a JSON read (200 or 300), as text, sorted. */
export async function siblingValues (res: Response): Promise<string[]> {
  const body = await res.json() as { siblings: Array<{ value: string }> }
  return body.siblings.map((s) => Buffer.from(s.value, 'base64').toString('utf8')).sort()
}

/** Poll `check` until it holds: at most `tries` times, `intervalMs` apart; throws naming `what` otherwise. */
export async function eventually (what: string, check: () => Promise<boolean>, tries = 50, intervalMs = 100): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return
    await sleep(intervalMs)
  }
  throw new Error(`never happened within ${tries} tries: ${what}`)
}
