import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseYaml } from '../encoding/yaml.js'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import * as ajvFormats from 'ajv-formats'

// ajv-formats is CommonJS with `exports.default`; under NodeNext the default import is the module object.
const addFormats = (ajvFormats as unknown as { default: (ajv: Ajv2020) => void }).default

/** Where the document lives, relative to the repository (and package) root. */
export const DOCUMENT_PATH = join('openapi', 'levelring.yaml')

/** The document as JSON, written by the build beside the compiled code, keyed by the YAML's SHA-256. */
const DOCUMENT_CACHE_PATH = join('dist', 'openapi', 'levelring.json')

/** An OpenAPI object, loosely typed: the contract walks it by name. */
type Node = Record<string, any>

/** One parameter of an operation, with its schema compiled. */
export interface ParameterContract {
  readonly name: string
  readonly in: 'path' | 'query' | 'header'
  readonly required: boolean
  readonly validate: ValidateFunction
}

/** One documented response: headers (with required flags) and body schemas per media type. */
export interface ResponseContract {
  readonly headers: ReadonlyArray<{ readonly name: string, readonly required: boolean, readonly validate: ValidateFunction }>
  /** Media type ('*\/*' included) -> body validator (undefined: any body). */
  readonly content: ReadonlyMap<string, ValidateFunction | undefined>
}

/** One operation of the document. */
export interface OperationContract {
  readonly operationId: string
  readonly method: string
  readonly path: string
  readonly parameters: readonly ParameterContract[]
  /** Status code (or 'default') -> response. */
  readonly responses: ReadonlyMap<string, ResponseContract>
}

/**
 * The OpenAPI document, loaded once, its schemas compiled with Ajv (JSON Schema 2020-12, OpenAPI 3.1's
 * dialect) when first used. The server validates requests with it; the tests check every response against it.
 */
export class ApiContract {
  readonly document: Node
  readonly #ajv: Ajv2020
  readonly #operations = new Map<string, OperationContract>()
  readonly #schemas = new Map<string, ValidateFunction>()

  constructor (document: Node) {
    this.document = document
    this.#ajv = new Ajv2020({ strict: false, allErrors: false })
    addFormats(this.#ajv)
    this.#ajv.addFormat('binary', true)
    // Register the document's components under their JSON pointers so '#/components/...' refs resolve.
    this.#ajv.addSchema({ $id: 'levelring', components: { schemas: document.components.schemas } })
    for (const [path, item] of Object.entries<Node>(document.paths)) {
      const shared: Node[] = item.parameters ?? []
      for (const method of ['get', 'put', 'post', 'delete', 'patch', 'head', 'options']) {
        const op: Node | undefined = item[method]
        if (op === undefined) continue
        const responses = this.#lazyResponses(op)
        this.#operations.set(op.operationId, {
          operationId: op.operationId,
          method: method.toUpperCase(),
          path,
          parameters: [...shared, ...(op.parameters ?? [])].map((p) => this.#parameter(this.resolve(p))),
          // Responses are checked by tests only: a node never compiles them.
          get responses () { return responses() }
        })
      }
    }
  }

  /** Load openapi/levelring.yaml from the repository this module was built in. */
  static load (): ApiContract {
    return new ApiContract(readDocument(findDocument()))
  }

  /** The operation with this operationId; throws for an unknown one (a programming error). */
  operation (operationId: string): OperationContract {
    const op = this.#operations.get(operationId)
    if (op === undefined) throw new Error(`no operation ${operationId} in ${DOCUMENT_PATH}`)
    return op
  }

  /** Every operation, for tests that walk the whole contract. */
  get operations (): readonly OperationContract[] {
    return [...this.#operations.values()]
  }

  /** A validator for a named component schema. */
  schema (name: string): ValidateFunction {
    let v = this.#schemas.get(name)
    if (v === undefined) {
      v = this.#compile({ $ref: `#/components/schemas/${name}` })
      this.#schemas.set(name, v)
    }
    return v
  }

  /** Follow a local `$ref` ('#/a/b/c') to the object it names. */
  resolve (node: Node): Node {
    let current = node
    for (let hops = 0; typeof current.$ref === 'string'; hops++) {
      if (hops > 16) throw new Error(`$ref chain too long at ${node.$ref}`)
      current = (current.$ref as string).slice(2).split('/')
        .reduce<Node>((n, part) => n[part.replace(/~1/g, '/').replace(/~0/g, '~')], this.document)
    }
    return current
  }

  /** Ajv's message for the last failure of `v`, for problem details. */
  static describe (v: ValidateFunction): string {
    return (v.errors ?? []).map((e) => `${e.instancePath || 'value'} ${e.message ?? 'is invalid'}`).join('; ')
  }

  #parameter (p: Node): ParameterContract {
    const validate = this.#lazy(p.schema ?? {})
    return { name: p.name, in: p.in, required: p.required === true, get validate () { return validate() } }
  }

  #response (r: Node): ResponseContract {
    const headers = Object.entries<Node>(r.headers ?? {}).map(([name, h]) => {
      const header = this.resolve(h)
      return { name, required: header.required === true, validate: this.#compile(header.schema ?? {}) }
    })
    const content = new Map<string, ValidateFunction | undefined>()
    for (const [type, media] of Object.entries<Node>(r.content ?? {})) {
      content.set(type, media.schema === undefined ? undefined : this.#compile(media.schema))
    }
    return { headers, content }
  }

  /**
   * A schema compiled on first use, then kept: compiling every schema of the document took most of a
   * node's start-up, and a node uses a few of them (a route's parameters, on its first request).
   */
  #lazy (schema: Node): () => ValidateFunction {
    let compiled: ValidateFunction | undefined
    return () => (compiled ??= this.#compile(schema))
  }

  #lazyResponses (op: Node): () => ReadonlyMap<string, ResponseContract> {
    let responses: ReadonlyMap<string, ResponseContract> | undefined
    return () => (responses ??= new Map(Object.entries<Node>(op.responses).map(([status, r]) => [status, this.#response(this.resolve(r))])))
  }

  #compile (schema: Node): ValidateFunction {
    // Rewrite document-local refs to the registered components schema.
    const rebased = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"levelring#/components/')) as Node
    return this.#ajv.compile(rebased)
  }
}

/** Walk up from this module to the directory holding openapi/levelring.yaml (works from src and dist). */
function findDocument (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const candidate = join(dir, DOCUMENT_PATH)
    if (existsSync(candidate)) return candidate
    const parent = dirname(dir)
    if (parent === dir) throw new Error(`cannot find ${DOCUMENT_PATH} above ${fileURLToPath(import.meta.url)}`)
    dir = parent
  }
}

/**
 * The parsed document. Parsing the YAML costs about a fifth of a node's start-up, so the build keeps a JSON
 * copy; the copy is used only while its hash matches the YAML beside it, so an edited document is never stale.
 */
export function readDocument (yamlPath: string, cachePath = join(dirname(dirname(yamlPath)), DOCUMENT_CACHE_PATH)): Node {
  const text = readFileSync(yamlPath, 'utf8')
  try {
    const cached = JSON.parse(readFileSync(cachePath, 'utf8')) as { sha256?: unknown, document?: unknown }
    if (cached.sha256 === sha256(text) && typeof cached.document === 'object' && cached.document !== null) {
      return cached.document as Node
    }
  } catch {
    // No copy (a run from source, or before the first build): parse the YAML.
  }
  return parseYaml(text) as Node
}

/** Write the JSON copy of the document that start-up reads; run by `npm run build`. Returns its path. */
export function writeDocumentCache (): string {
  const yamlPath = findDocument()
  const text = readFileSync(yamlPath, 'utf8')
  const cachePath = join(dirname(dirname(yamlPath)), DOCUMENT_CACHE_PATH)
  mkdirSync(dirname(cachePath), { recursive: true })
  writeFileSync(cachePath, JSON.stringify({ sha256: sha256(text), document: parseYaml(text) }))
  return cachePath
}

function sha256 (text: string): string {
  return createHash('sha256').update(text).digest('hex')
}
