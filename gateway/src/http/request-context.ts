import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * The id of the client request the current code serves, carried through its asynchronous work
 * (coordination, internode calls, read repair) so the internode client can send it on
 * (X-Request-Id) and every node's access log names the same request. Entered only while access
 * logs are on: a node without them pays nothing for it.
 */
const context = new AsyncLocalStorage<string>()

/** Run `work` as serving request `id`. */
export function runAsRequest<T> (id: string, work: () => T): T {
  return context.run(id, work)
}

/** The id of the request being served here, if any. */
export function currentRequestId (): string | undefined {
  return context.getStore()
}

/** The header that carries it, on client requests, their answers and internode calls. */
export const REQUEST_ID_HEADER = 'x-request-id'

/** What a caller's X-Request-Id may hold to be kept (else one is made): short and log-safe. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:@/+=-]{1,128}$/
