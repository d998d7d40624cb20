import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Request, Response } from 'express'
import { GatewayError } from '../error/gateway-error.js'

/** Where the dashboard's files live, relative to the repository (and package) root. */
export const DASHBOARD_DIR = join('gateway', 'ui')

/** The files of the page and their media types: a fixed set, so no path from a request reaches the file system. */
const FILES: ReadonlyMap<string, { file: string, type: string }> = new Map([
  ['/ui', { file: 'index.html', type: 'text/html; charset=utf-8' }],
  ['/ui/', { file: 'index.html', type: 'text/html; charset=utf-8' }],
  ['/ui/dashboard.js', { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' }],
  ['/ui/dashboard.css', { file: 'dashboard.css', type: 'text/css; charset=utf-8' }]
])

/** The paths the dashboard serves (they need no token: the page holds no data, it asks for it). */
export const DASHBOARD_PATHS: readonly string[] = [...FILES.keys()]

/**
 * GET /ui: the dashboard, a static page (HTML, one script, one style sheet, no build step, nothing
 * from elsewhere) that polls this node's /v1/cluster, /v1/ring, /v1/engines, /v1/ready and /metrics. The files are read
 * once, when the node starts.
 */
export function dashboardRoute () {
  const dir = findDashboard()
  const loaded = new Map([...FILES].map(([path, { file, type }]) => [path, { type, body: readFileSync(join(dir, file)) }]))
  return function dashboard (req: Request, res: Response): void {
    const page = loaded.get(req.path)
    if (page === undefined) throw new GatewayError('LEVELRING_ROUTE_NOT_FOUND', `no dashboard file ${req.path}; the dashboard is at /ui`)
    res.status(200)
    res.setHeader('Content-Type', page.type)
    // The page and its script change together with the node: always ask.
    res.setHeader('Cache-Control', 'no-cache')
    res.setHeader('Content-Security-Policy', "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'")
    res.send(page.body)
  }
}

function findDashboard (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const candidate = join(dir, DASHBOARD_DIR)
    if (existsSync(join(candidate, 'index.html'))) return candidate
    const parent = dirname(dir)
    if (parent === dir) throw new Error(`cannot find ${DASHBOARD_DIR}/index.html above ${fileURLToPath(import.meta.url)}`)
    dir = parent
  }
}
