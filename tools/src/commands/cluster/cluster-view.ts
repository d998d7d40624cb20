/**
 * The cluster as one node sees it (GET /v1/health and GET /v1/cluster, openapi/levelring.yaml), for
 * `levelring status|members|ring`. Fields the document does not name yet (a newer node's hints pending,
 * anti-entropy exchanges, member details) are shown as the node returns them, not dropped.
 */
import type { components } from '../../../../openapi/generated/levelring.js'
import { counted } from '../../cli-kit/counted.js'
import { fieldLines, scalarText } from '../../cli-kit/field-lines.js'
import { humanDuration } from '../../cli-kit/human-duration.js'
import { textTable } from '../../cli-kit/text-table.js'

export type Health = components['schemas']['Health'] & Record<string, unknown>
export type Member = components['schemas']['Member'] & Record<string, unknown>
export type ClusterView = components['schemas']['ClusterView'] & Record<string, unknown>
type Owner = ClusterView['ring']['owners'][number] & Record<string, unknown>

/** Members of the view: the node itself first, then its peers. */
export function membersOf (view: ClusterView): Array<Member & { self: boolean }> {
  return [{ ...view.node as Member, self: true }, ...view.peers.map((p) => ({ ...p as Member, self: false }))]
}

/** "3 members: 2 up, 1 down". */
function memberSummary (view: ClusterView): string {
  const byStatus = new Map<string, number>()
  for (const m of membersOf(view)) byStatus.set(m.status, (byStatus.get(m.status) ?? 0) + 1)
  return `${counted(membersOf(view).length, 'member')}: ${[...byStatus].map(([s, n]) => `${n} ${s}`).join(', ')}`
}

/** Top-level fields of an object beyond the ones the document names. */
function extras (o: Record<string, unknown>, known: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => !known.includes(k)))
}

/** `status`: the node, its health, the member count by state, the ring, and whatever else the view holds. */
export function statusLines (url: string, health: Health, view: ClusterView): string[] {
  const more = extras(view, ['node', 'peers', 'ring'])
  const mentions = (re: RegExp): boolean => Object.keys(more).some((k) => re.test(k))
  const rows = [
    ['node', `${view.node.id ?? health.nodeId} at ${view.node.address} (${url})`],
    ['health', `${health.status}, up ${humanDuration(health.uptimeSeconds)}, storage ${health.storage}`],
    ['members', memberSummary(view)],
    ['ring', `${view.ring.partitions} partitions, n = ${view.ring.replicas}, ${counted(view.ring.owners.length, 'owner')}`]
  ]
  // The cluster issues add these to GET /v1/cluster; until a node reports them, say so rather than show nothing.
  if (!mentions(/hint/i)) rows.push(['hints pending', 'not reported by this node'])
  if (!mentions(/entropy|exchange/i)) rows.push(['anti-entropy', 'not reported by this node'])
  const lines = textTable([{ header: 'node' }, { header: url }], rows).slice(1)
  return Object.keys(more).length === 0 ? lines : [...lines, ...fieldLines(more)]
}

/** `members`: one row per member (the node itself marked *), with every field the node reports. */
export function memberLines (view: ClusterView): string[] {
  const members = membersOf(view)
  const extraNames = [...new Set(members.flatMap((m) => Object.keys(extras(m, ['id', 'address', 'status', 'self']))))]
  const rows = members.map((m) => [m.self ? '*' : '', m.id ?? '-', m.address, m.status, ...extraNames.map((k) => scalarText(m[k]))])
  return [
    ...textTable([{ header: '' }, { header: 'id' }, { header: 'address' }, { header: 'status' }, ...extraNames.map((header) => ({ header }))], rows),
    `${memberSummary(view)} (* = the node asked)`
  ]
}

/** Width of the bar of the owner with the most partitions. */
const BAR_WIDTH = 30

/** `ring`: the partitions each node owns, as counts, shares and bars. */
export function ringLines (view: ClusterView): string[] {
  const ring = view.ring
  const owners = ring.owners as Owner[]
  const most = Math.max(1, ...owners.map((o) => o.partitions))
  const extraNames = [...new Set(owners.flatMap((o) => Object.keys(extras(o, ['id', 'partitions']))))]
  const rows = [...owners].sort((a, b) => b.partitions - a.partitions).map((o) => [
    o.id,
    String(o.partitions),
    `${(100 * o.partitions / ring.partitions).toFixed(1)}%`,
    ...extraNames.map((k) => scalarText(o[k])),
    '█'.repeat(Math.round(BAR_WIDTH * o.partitions / most))
  ])
  const more = extras(ring as Record<string, unknown>, ['partitions', 'replicas', 'owners'])
  return [
    `ring: ${ring.partitions} partitions, each key stored on n = ${ring.replicas} nodes`,
    ...textTable([{ header: 'owner' }, { header: 'partitions', align: 'right' }, { header: 'share', align: 'right' }, ...extraNames.map((header) => ({ header })), { header: '' }], rows),
    ...(Object.keys(more).length === 0 ? [] : fieldLines(more))
  ]
}
