// A strict parser of the Prometheus text exposition format (version 0.0.4), for tests: it throws, with
// the line number, on anything the format does not allow, and checks what a scraper relies on: a
// TYPE before a family's samples, each family's samples together, no series twice, histogram buckets
// cumulative with an `le` on each and a +Inf bucket equal to _count, counters never negative.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Family {
  readonly name: string
  type: MetricType
  help?: string
  readonly samples: Sample[]
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

/** The family a sample name belongs to, given the families declared so far. */
function familyOf (name: string, families: ReadonlyMap<string, Family>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length)
      const f = families.get(base)
      if (f !== undefined && (f.type === 'histogram' || f.type === 'summary')) return base
    }
  }
  return name
}

function parseValue (text: string, where: string): number {
  if (text === '+Inf') return Infinity
  if (text === '-Inf') return -Infinity
  if (text === 'NaN') return NaN
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: ${JSON.stringify(text)} is not a sample value`)
  return Number(text)
}

/** Labels of `{...}` starting at text[0] === '{'; returns them and the rest of the line after '}'. */
function parseLabels (text: string, where: string): { labels: Record<string, string>, rest: string } {
  const labels: Record<string, string> = {}
  let i = 1
  for (;;) {
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) }
    const eq = text.indexOf('=', i)
    if (eq === -1) throw new Error(`${where}: label without '='`)
    const name = text.slice(i, eq)
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`${where}: bad label name ${JSON.stringify(name)}`)
    if (Object.hasOwn(labels, name)) throw new Error(`${where}: label ${name} twice`)
    if (text[eq + 1] !== '"') throw new Error(`${where}: label ${name} value is not quoted`)
    let value = ''
    let j = eq + 2
    for (;; j++) {
      const c = text[j]
      if (c === undefined) throw new Error(`${where}: unterminated label value of ${name}`)
      if (c === '"') break
      if (c === '\\') {
        const next = text[++j]
        if (next === '\\') value += '\\'
        else if (next === '"') value += '"'
        else if (next === 'n') value += '\n'
        else throw new Error(`${where}: bad escape \\${String(next)} in label ${name}`)
      } else {
        value += c
      }
    }
    labels[name] = value
    i = j + 1
    if (text[i] === ',') i++
    else if (text[i] !== '}') throw new Error(`${where}: expected ',' or '}' after label ${name}`)
  }
}

/** Parse `text` strictly; throws on the first violation. */
export function parseExposition (text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the exposition does not end with a newline')
  const families = new Map<string, Family>()
  const finished = new Set<string>()
  const series = new Set<string>()
  let current: string | undefined
  const lines = text.split('\n')
  lines.pop()
  for (const [index, line] of lines.entries()) {
    const where = `line ${index + 1}`
    if (line.trim() === '') continue
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
      if (m === null) continue // a comment
      const [, kind, name, rest] = m as unknown as [string, 'HELP' | 'TYPE', string, string]
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name ${JSON.stringify(name)}`)
      let family = families.get(name)
      if (family !== undefined && family.samples.length > 0) throw new Error(`${where}: ${kind} of ${name} after its samples`)
      if (family === undefined) {
        if (finished.has(name)) throw new Error(`${where}: family ${name} appears twice`)
        family = { name, type: 'untyped', samples: [] }
        families.set(name, family)
      }
      if (current !== undefined && current !== name) finished.add(current)
      current = name
      if (kind === 'TYPE') {
        if (!TYPES.has(rest as MetricType)) throw new Error(`${where}: unknown type ${JSON.stringify(rest)}`)
        family.type = rest as MetricType
      } else {
        if (family.help !== undefined) throw new Error(`${where}: second HELP for ${name}`)
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new Error(`${where}: bad escape in HELP of ${name}`)
        family.help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\')
      }
      continue
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)
    if (nameMatch === null) throw new Error(`${where}: no metric name: ${line}`)
    const name = nameMatch[0]
    let rest = line.slice(name.length)
    let labels: Record<string, string> = {}
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, where))
    const parts = rest.trim().split(/ +/)
    if (!rest.startsWith(' ') || parts.length < 1 || parts.length > 2) throw new Error(`${where}: expected a value (and a timestamp) after the labels: ${line}`)
    const value = parseValue(parts[0]!, where)
    if (parts.length === 2 && !/^-?\d+$/.test(parts[1]!)) throw new Error(`${where}: bad timestamp ${parts[1]!}`)
    const familyName = familyOf(name, families)
    if (finished.has(familyName)) throw new Error(`${where}: samples of ${familyName} are not together`)
    let family = families.get(familyName)
    if (family === undefined) {
      family = { name: familyName, type: 'untyped', samples: [] }
      families.set(familyName, family)
    }
    if (current !== undefined && current !== familyName) finished.add(current)
    current = familyName
    if (family.type === 'histogram' && name === familyName) throw new Error(`${where}: histogram ${familyName} has a bare sample`)
    if (family.type === 'counter' && (Number.isNaN(value) || value < 0)) throw new Error(`${where}: counter ${name} is ${value}`)
    const id = `${name}${JSON.stringify(Object.entries(labels).sort())}`
    if (series.has(id)) throw new Error(`${where}: series ${id} twice`)
    series.add(id)
    family.samples.push({ name, labels, value })
  }
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family)
  return families
}

/** Buckets with `le`, cumulative, and a +Inf bucket equal to _count, per label set. */
function checkHistogram (family: Family): void {
  const groups = new Map<string, { buckets: Array<[number, number]>, count?: number, sum?: number }>()
  for (const s of family.samples) {
    const { le, ...rest } = s.labels
    const key = JSON.stringify(Object.entries(rest).sort())
    const group = groups.get(key) ?? { buckets: [] }
    groups.set(key, group)
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`histogram ${family.name}: a bucket without le`)
      group.buckets.push([parseValue(le, `le of ${family.name}`), s.value])
    } else if (s.name.endsWith('_count')) {
      group.count = s.value
    } else {
      group.sum = s.value
    }
  }
  for (const [key, g] of groups) {
    const sorted = [...g.buckets].sort((a, b) => a[0] - b[0])
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]![1] < sorted[i - 1]![1]) throw new Error(`histogram ${family.name}${key}: bucket le=${sorted[i]![0]} holds fewer than the one below it`)
    }
    const inf = sorted.at(-1)
    if (inf === undefined || inf[0] !== Infinity) throw new Error(`histogram ${family.name}${key}: no +Inf bucket`)
    if (g.count === undefined || g.sum === undefined) throw new Error(`histogram ${family.name}${key}: no _count or _sum`)
    if (inf[1] !== g.count) throw new Error(`histogram ${family.name}${key}: +Inf bucket ${inf[1]} != _count ${g.count}`)
  }
}

/** The sum of the samples named `name` whose labels include `labels` (0 when none). */
export function sampleValue (families: ReadonlyMap<string, Family>, name: string, labels: Readonly<Record<string, string>> = {}): number {
  const family = families.get(familyOf(name, families))
  let total = 0
  for (const s of family?.samples ?? []) {
    if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) total += s.value
  }
  return total
}
