// The levelring dashboard: polls this node's /v1/cluster, /v1/ring, /v1/ready and /metrics and draws
// them. Plain browser JavaScript, no dependencies and no build step; everything it shows comes from
// the node that served it.

const POLL_MS = 2000
/** Samples of /metrics kept for the request charts: five minutes. */
const HISTORY = Math.ceil(300_000 / POLL_MS)
/** The client operations whose requests the charts sum. */
const CLIENT_OPS = new Set(['get', 'put', 'delete'])
const SVG = 'http://www.w3.org/2000/svg'
const PALETTE = ['#58a6ff', '#3fb950', '#f0883e', '#bc8cff', '#ff7b72', '#39c5cf', '#d29922', '#e3b341', '#8b949e', '#f778ba', '#7ee787', '#a5d6ff']

const $ = (id) => document.getElementById(id)
let token = sessionStorage.getItem('levelring-token') ?? ''
const samples = [] // { t, count, buckets: Map<le, cumulative count> }

async function getJson (path) {
  const res = await fetch(path, { headers: token === '' ? {} : { Authorization: `Bearer ${token}` }, cache: 'no-store' })
  if (res.status === 401) { $('token-form').hidden = false; throw new Error(`${path}: this node requires a bearer token`) }
  return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text() }
}

/** Prometheus text format: one { name, labels, value } per sample line. */
export function parseExposition (text) {
  const out = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line)
    if (m === null) continue
    const labels = {}
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\(.)/g, '$1')
    out.push({ name: m[1], labels, value: Number(m[4]) })
  }
  return out
}

function el (tag, attrs = {}, text) {
  const e = tag === 'svg' || attrs.svg === true ? document.createElementNS(SVG, tag) : document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) if (k !== 'svg') e.setAttribute(k, String(v))
  if (text !== undefined) e.textContent = text
  return e
}
const svgEl = (tag, attrs) => el(tag, { ...attrs, svg: true })

function figures (container, items) {
  container.replaceChildren(...items.map(([label, value]) => {
    const f = el('div', { class: 'figure' })
    f.append(el('b', {}, value), el('small', {}, label))
    return f
  }))
}

function bytes (n) {
  if (!Number.isFinite(n)) return '–'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`
}

const colours = new Map()
function colourOf (id) {
  if (!colours.has(id)) colours.set(id, PALETTE[colours.size % PALETTE.length])
  return colours.get(id)
}

function drawMembers (cluster) {
  const rows = [{ ...cluster.node, self: true }, ...cluster.peers]
  const zones = rows.some((m) => m.zone !== undefined)
  for (const th of document.querySelectorAll('#members .zone')) th.hidden = !zones
  $('members').tBodies[0].replaceChildren(...rows.map((m) => {
    const tr = el('tr')
    const status = m.status ?? 'unknown'
    tr.append(
      el('td', {}, `${m.id ?? '?'}${m.self === true ? ' (this node)' : ''}`),
      el('td', {}, m.address ?? ''),
      ...(zones ? [el('td', {}, m.zone ?? '')] : []),
      el('td', { class: status }, status),
      el('td', {}, m.self === true ? '–' : (m.phi ?? 0).toFixed(2)),
      el('td', {}, String(m.generation ?? cluster.gossip?.generation ?? '–')))
    return tr
  }))
  $('node-id').textContent = cluster.node.id
}

function arc (r1, r2, a0, a1, fill) {
  const p = (r, a) => `${(r * Math.sin(a)).toFixed(3)} ${(-r * Math.cos(a)).toFixed(3)}`
  const large = a1 - a0 > Math.PI ? 1 : 0
  return svgEl('path', { d: `M${p(r2, a0)} A${r2} ${r2} 0 ${large} 1 ${p(r2, a1)} L${p(r1, a1)} A${r1} ${r1} 0 ${large} 0 ${p(r1, a0)} Z`, fill })
}

function drawRing (ring) {
  const svg = $('ring')
  const q = ring.owners.length
  const parts = []
  if (q === 0) {
    parts.push(svgEl('circle', { r: 80, fill: 'none', stroke: '#2a3642', 'stroke-width': 20 }))
    $('ring-summary').textContent = '(no ring yet: this node is joining)'
  } else {
    const step = (2 * Math.PI) / q
    // Runs of partitions with one owner are drawn as one arc (512 paths would be slow on a phone).
    const runs = (owners, r1, r2) => {
      for (let start = 0; start < q;) {
        let end = start + 1
        while (end < q && owners[end] === owners[start]) end++
        parts.push(arc(r1, r2, start * step, end * step, colourOf(ring.members[owners[start]])))
        start = end
      }
    }
    runs(ring.owners, 70, 100)
    if (ring.pending !== undefined) {
      // The inner ring: partitions whose owner changes, in their new owner's colour.
      for (let p = 0; p < q; p++) {
        if (ring.pending.owners[p] !== ring.owners[p]) parts.push(arc(52, 66, p * step, (p + 1) * step, colourOf(ring.members[ring.pending.owners[p]])))
      }
    }
    $('ring-summary').textContent = `(Q = ${q}, n = ${ring.replicas})`
  }
  svg.replaceChildren(...parts, svgEl('text', { x: 0, y: 5, 'text-anchor': 'middle', fill: '#8a96a3', 'font-size': 12 }))
  svg.lastChild.textContent = ring.epoch === null ? 'no ring' : `epoch ${ring.epoch}`
  const share = new Map()
  for (const i of ring.owners) share.set(ring.members[i], (share.get(ring.members[i]) ?? 0) + 1)
  $('ring-legend').replaceChildren(...ring.members.map((id) => {
    const li = el('li')
    li.append(el('span', { class: 'swatch' }), `${id}: ${share.get(id) ?? 0} partitions`)
    li.firstChild.style.background = colourOf(id)
    return li
  }))
  const moving = ring.pending === undefined ? 0 : ring.pending.owners.filter((o, p) => o !== ring.owners[p]).length
  $('ring-pending').textContent = ring.pending === undefined
    ? 'No pending moves.'
    : `Pending: ${moving} partitions change owner (inner ring); waiting for ${ring.pending.waitingFor.join(', ') || 'no one'}.`
  $('epoch').textContent = ring.epoch === null ? '' : `ring epoch ${ring.epoch}`
}

function drawHints (hints) {
  const owners = hints?.owners ?? []
  $('hints').tBodies[0].replaceChildren(...owners.map((o) => {
    const tr = el('tr')
    tr.append(el('td', {}, o.id), el('td', {}, String(o.pending)), el('td', { class: o.up ? 'up' : 'down' }, o.up ? 'yes' : 'no'), el('td', {}, o.lastError ?? ''))
    return tr
  }))
  $('hints-summary').textContent = hints === undefined ? 'This node runs alone: it keeps no hints.' : `${hints.pending} pending, ${hints.delivered} delivered since start.`
}

function drawAntiEntropy (ae) {
  if (ae === undefined) { figures($('ae-figures'), [['anti-entropy', 'off (node runs alone)']]); return }
  figures($('ae-figures'), [
    ['trees', ae.trees.state], ['keys in trees', String(ae.trees.keys)], ['partitions replicated', String(ae.replicatedPartitions)],
    ['rounds', String(ae.rounds)], ['keys pulled', String(ae.totals.keysPulled)], ['keys pushed', String(ae.totals.keysPushed)],
    ['bytes sent', bytes(ae.totals.bytesSent)], ['bytes received', bytes(ae.totals.bytesReceived)]
  ])
  $('exchanges').tBodies[0].replaceChildren(...ae.lastExchanges.map((x) => {
    const tr = el('tr')
    tr.append(...[x.peer + (x.error !== undefined ? ' ⚠' : ''), new Date(x.startedAt).toLocaleTimeString(), x.trigger, x.partitionsCompared,
      x.partitionsDiffering, x.keysPulled, x.keysPushed, x.durationMs].map((v) => el('td', {}, String(v))))
    if (x.error !== undefined) tr.title = x.error
    return tr
  }))
}

/** The quantile q of the requests between two cumulative histogram snapshots (linear within a bucket). */
function quantile (from, to, q) {
  const les = [...to.buckets.keys()].sort((a, b) => a - b)
  const total = to.count - from.count
  if (total <= 0) return NaN
  let prevLe = 0
  let prevCount = 0
  for (const le of les) {
    const c = to.buckets.get(le) - (from.buckets.get(le) ?? 0)
    if (c >= q * total) {
      if (!Number.isFinite(le)) return prevLe
      return prevLe + (le - prevLe) * ((q * total - prevCount) / Math.max(c - prevCount, 1e-9))
    }
    prevLe = le
    prevCount = c
  }
  return prevLe
}

function sampleRequests (metrics) {
  const buckets = new Map()
  let count = 0
  for (const m of metrics) {
    if (m.name === 'levelring_http_request_duration_seconds_bucket' && CLIENT_OPS.has(m.labels.operation)) {
      const le = m.labels.le === '+Inf' ? Infinity : Number(m.labels.le)
      buckets.set(le, (buckets.get(le) ?? 0) + m.value)
    } else if (m.name === 'levelring_http_request_duration_seconds_count' && CLIENT_OPS.has(m.labels.operation)) {
      count += m.value
    }
  }
  samples.push({ t: Date.now(), count, buckets })
  if (samples.length > HISTORY) samples.shift()
}

function line (svg, values, max, colour) {
  const n = values.length
  if (n < 2) return
  const pts = values.map((v, i) => `${((i / (HISTORY - 1)) * 300).toFixed(1)},${(78 - (Number.isFinite(v) ? v : 0) / max * 74).toFixed(1)}`)
  svg.append(svgEl('polyline', { points: pts.join(' '), fill: 'none', stroke: colour, 'stroke-width': 1.5, 'vector-effect': 'non-scaling-stroke' }))
}

function drawRequests () {
  const rates = []
  const p50 = []
  const p99 = []
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]
    const b = samples[i]
    rates.push((b.count - a.count) / ((b.t - a.t) / 1000))
    // Percentiles over the last minute of requests, at each sample.
    const from = samples[Math.max(0, i - Math.round(60_000 / POLL_MS))]
    p50.push(quantile(from, b, 0.5) * 1000)
    p99.push(quantile(from, b, 0.99) * 1000)
  }
  const last = (xs) => xs.length === 0 ? NaN : xs[xs.length - 1]
  const fmt = (v, unit) => Number.isFinite(v) ? `${v < 10 ? v.toFixed(2) : v.toFixed(0)}${unit}` : '–'
  figures($('request-figures'), [['req/s now', fmt(last(rates), '')], ['p50 (1 min)', fmt(last(p50), ' ms')], ['p99 (1 min)', fmt(last(p99), ' ms')],
    ['requests since start', String(samples.length === 0 ? 0 : samples[samples.length - 1].count)]])
  const rateChart = $('rate-chart')
  rateChart.replaceChildren()
  line(rateChart, rates, Math.max(1, ...rates.filter(Number.isFinite)), '#58a6ff')
  const latencyChart = $('latency-chart')
  latencyChart.replaceChildren()
  const maxLatency = Math.max(1, ...p99.filter(Number.isFinite))
  line(latencyChart, p50, maxLatency, '#3fb950')
  line(latencyChart, p99, maxLatency, '#f0883e')
}

function drawEngine (metrics) {
  const one = (name) => metrics.find((m) => m.name === name)?.value
  const amplification = one('levelring_engine_write_amplification')
  figures($('engine-figures'), [
    ['memtable', bytes(one('levelring_engine_memtable_bytes'))],
    ['block cache hit ratio', one('levelring_engine_block_cache_hit_ratio') === undefined ? '–' : `${(one('levelring_engine_block_cache_hit_ratio') * 100).toFixed(1)} %`],
    ['pending compaction', bytes(one('levelring_engine_pending_compaction_bytes'))],
    ['write amplification', amplification === undefined || amplification === 0 ? '–' : amplification.toFixed(2)],
    ['compactions', String(one('levelring_engine_compactions_total') ?? '–')],
    ['write stalls', `${(one('levelring_engine_write_stall_seconds_total') ?? 0).toFixed(1)} s`]
  ])
}

/** One small chart per member: bytes per LSM level (the bar) and files (the label). */
function drawEngines (engines) {
  $('engines').replaceChildren(...engines.nodes.map((node) => {
    const box = el('div')
    box.append(el('h3', {}, node.id))
    if (node.error !== undefined) { box.append(el('p', { class: 'muted' }, `no answer: ${node.error}`)); return box }
    const svg = el('svg', { class: 'levels', viewBox: '0 0 300 140', preserveAspectRatio: 'xMinYMin meet', 'aria-label': `LSM levels of ${node.id}` })
    const max = Math.max(1, ...node.levels.map((l) => l.bytes))
    const rowH = 140 / Math.max(node.levels.length, 1)
    svg.append(...node.levels.flatMap((l, i) => {
      const y = i * rowH
      const w = (l.bytes / max) * 170
      const label = svgEl('text', { x: 0, y: y + rowH * 0.7, fill: '#8a96a3', 'font-size': 12 })
      label.textContent = `L${l.level}`
      const value = svgEl('text', { x: 28 + w + 4, y: y + rowH * 0.7, fill: '#d8dee6', 'font-size': 12 })
      value.textContent = `${bytes(l.bytes)}, ${l.files} files`
      return [label, svgEl('rect', { x: 24, y: y + 2, width: Math.max(w, l.bytes > 0 ? 1 : 0), height: rowH - 4, fill: '#58a6ff' }), value]
    }))
    box.append(svg, el('p', { class: 'muted' }, `memtable ${bytes(node.memtableBytes)}, compaction backlog ${bytes(node.pendingCompactionBytes)}`))
    return box
  }))
}

async function poll () {
  try {
    const [cluster, ring, ready, metrics, engines] = await Promise.all([getJson('/v1/cluster'), getJson('/v1/ring'), getJson('/v1/ready'), getJson('/metrics'), getJson('/v1/engines')])
    drawMembers(cluster.body)
    drawRing(ring.body)
    drawHints(cluster.body.hints)
    drawAntiEntropy(cluster.body.antiEntropy)
    const badge = $('ready')
    badge.textContent = ready.status === 200 ? 'ready' : `not ready: ${ready.body.reason ?? ready.status}`
    badge.className = `badge ${ready.status === 200 ? 'ok' : 'bad'}`
    if (metrics.status === 200) {
      const parsed = parseExposition(metrics.body)
      sampleRequests(parsed)
      drawRequests()
      drawEngine(parsed)
    }
    if (engines.status === 200) drawEngines(engines.body)
    $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`
    $('error').hidden = true
    document.body.dataset.loaded = 'true'
  } catch (err) {
    $('error').textContent = String(err.message ?? err)
    $('error').hidden = false
  }
}

$('token-form').addEventListener('submit', (e) => {
  e.preventDefault()
  token = $('token').value.trim()
  sessionStorage.setItem('levelring-token', token)
  $('token-form').hidden = true
  void poll()
})

void poll()
setInterval(() => { void poll() }, POLL_MS)
