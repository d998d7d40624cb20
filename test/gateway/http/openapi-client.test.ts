import createClient from 'openapi-fetch'
import { afterAll, beforeAll, expect, test } from 'vitest'
import type { paths } from '../../../openapi/generated/levelring.js'
import { checkAgainstContract } from '../helpers/contract-client.js'
import { startTestNode, type TestNode } from '../helpers/test-node.js'

let node: TestNode
beforeAll(async () => { node = await startTestNode() })
afterAll(async () => { await node?.stop() })

/** A client generated from the document, exactly as the README shows it; every answer is also checked against the document. */
function client (baseUrl: string) {
  const api = createClient<paths>({ baseUrl })
  api.use({
    async onResponse ({ request, response }) {
      const body = Buffer.from(await response.clone().arrayBuffer())
      const type = response.headers.get('content-type') ?? ''
      const path = new URL(request.url).pathname
      checkAgainstContract(request.method, path, {
        status: response.status,
        headers: Object.fromEntries(response.headers),
        body,
        json: /json/.test(type) && body.length > 0 ? JSON.parse(body.toString()) : undefined,
        raw: undefined as never
      })
      return undefined
    }
  })
  return api
}

test('openapi-fetch over the generated types drives the node end to end', async () => {
  const api = client(node.url)
  const key = 'carts/42 ✓'

  // Write two concurrent versions (no context), as two clients would.
  for (const value of ['apple', 'pear']) {
    const { response } = await api.PUT('/v1/kv/{key}', {
      params: { path: { key }, query: { w: 'quorum', dw: 1 } },
      body: value,
      bodySerializer: (b) => b,
      headers: { 'Content-Type': 'text/plain' }
    })
    expect(response.status).toBe(204)
  }

  // Siblings come back as 300 (an error status for fetch) with the JSON form.
  const siblings = await api.GET('/v1/kv/{key}', { params: { path: { key }, query: { r: 1 } } })
  expect(siblings.response.status).toBe(300)
  const body = siblings.error as unknown as { context: string, siblings: Array<{ value: string }> }
  expect(body.siblings.map((s) => Buffer.from(s.value, 'base64').toString()).sort()).toEqual(['apple', 'pear'])

  // Resolve: write the merged value back with the context of that read.
  const resolved = await api.PUT('/v1/kv/{key}', {
    params: { path: { key }, header: { 'X-Causal-Context': body.context }, query: { returnbody: true } },
    body: 'apple,pear',
    bodySerializer: (b) => b,
    headers: { 'Content-Type': 'text/plain' }
  })
  expect(resolved.response.status).toBe(200)
  expect(resolved.data?.siblings).toHaveLength(1)

  // One version: the raw value.
  const one = await api.GET('/v1/kv/{key}', { params: { path: { key } }, parseAs: 'text' })
  expect(one.response.status).toBe(200)
  expect(one.data).toBe('apple,pear')
  const context = one.response.headers.get('X-Causal-Context')!

  // Delete with that context, then the 404 still carries a context.
  const del = await api.DELETE('/v1/kv/{key}', { params: { path: { key }, header: { 'X-Causal-Context': context } } })
  expect(del.response.status).toBe(204)
  const gone = await api.GET('/v1/kv/{key}', { params: { path: { key } } })
  expect(gone.response.status).toBe(404)
  expect(gone.error?.type).toBe('urn:levelring:problem:not-found')
  expect(gone.response.headers.get('X-Causal-Context')).toBeTruthy()

  // Errors are typed problem documents.
  const bad = await api.PUT('/v1/kv/{key}', {
    params: { path: { key }, query: { w: 7 } }, body: 'x', bodySerializer: (b) => b
  })
  expect(bad.response.status).toBe(400)
  expect(bad.error).toMatchObject({ type: 'urn:levelring:problem:invalid-parameter', parameter: 'w' })

  const health = await api.GET('/v1/health')
  expect(health.data?.status).toBe('ok')
  const cluster = await api.GET('/v1/cluster')
  expect(cluster.data?.node.id).toBe('n1')
})

test("the README's client example runs as written against a node", async () => {
  const { readFile, writeFile, rm } = await import('node:fs/promises')
  const ts = (await import('typescript')).default
  const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8')
  const section = readme.slice(readme.indexOf('### A typed client from the document'))
  const source = /```ts\n([\s\S]*?)```/.exec(section)?.[1]
  expect(source, 'README has a ts block under "A typed client from the document"').toBeDefined()
  expect(source).toContain("createClient<paths>({ baseUrl: 'http://127.0.0.1:7001' })")
  const runnable = ts.transpileModule(source!.replace('http://127.0.0.1:7001', node.url), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 }
  }).outputText
  // A concurrent version first, so the example meets siblings and resolves them.
  await fetch(`${node.url}/v1/kv/carts%2F42`, { method: 'PUT', body: 'pear', headers: { 'Content-Type': 'text/plain' } })
  const file = new URL(`./readme-example-${process.pid}.mjs`, import.meta.url)
  await writeFile(file, runnable)
  try {
    await import(file.href)
  } finally {
    await rm(file, { force: true })
  }
  const res = await fetch(`${node.url}/v1/kv/carts%2F42`)
  expect(res.status).toBe(200)
  expect((await res.text()).split(',').sort()).toEqual(['apple', 'pear'])
})
