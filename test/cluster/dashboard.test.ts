import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { getKey, putText } from './helpers/http.js'
import { TestCluster } from './helpers/test-cluster.js'
import { makeTempDir, removeDir } from '../support/temp-dir.js'

// The browser's globals that the functions run in the page use (page.evaluate, waitForFunction). Declared
// here, not with lib "dom": that lib would retype fetch and its bodies for every test.
declare const document: {
  body: { dataset: Record<string, string | undefined> }
  documentElement: { scrollWidth: number }
  querySelectorAll: (selector: string) => { length: number }
}
declare const window: { innerWidth: number }

// The dashboard in a real browser: Debian's headless Chromium, driven by playwright-core, loads /ui of
// a real 3-node cluster under a little traffic, shows the three members and a non-empty ring with no
// page or script error, fits a phone's width, and takes a screenshot: into the test's temporary directory,
// or into docs/dashboard.png with LEVELRING_UPDATE_SCREENSHOT=1 (so a test run leaves the tree clean).
// Chromium is not installed by the test: `.ci/run` (or the README's test set-up) installs it; without
// it the test is skipped, saying so.

const CHROMIUM = '/usr/bin/chromium'
const DOCS_SCREENSHOT = fileURLToPath(new URL('../../docs/dashboard.png', import.meta.url))
const present = existsSync(CHROMIUM)
if (!present) console.warn(`SKIPPED: the dashboard browser test needs ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`)

let cluster: TestCluster
let context: BrowserContext
let profile: string

beforeAll(async () => {
  if (!present) return
  cluster = await TestCluster.start({ size: 3, replicas: 3 })
  profile = makeTempDir('levelring-chromium')
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 1000 }
  })
})

afterAll(async () => {
  await context?.close()
  await cluster?.close()
  if (profile !== undefined) removeDir(profile)
})

/** Every page error and console error of `page`, as they happen. */
function errorsOf (page: Page): string[] {
  const errors: string[] = []
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`))
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`console: ${msg.text()}`) })
  page.on('requestfailed', (req) => errors.push(`request failed: ${req.url()} ${req.failure()?.errorText ?? ''}`))
  return errors
}

test.skipIf(!present)('the dashboard of a 3-node cluster shows its members and ring, with no script error, on a wide screen and a phone', async () => {
  const node = cluster.nodes[0]!
  const page = await context.newPage()
  const errors = errorsOf(page)
  await page.goto(`${node.url}/ui`)
  await page.waitForFunction(() => document.body.dataset.loaded === 'true', undefined, { timeout: 15_000 })

  const members = await page.locator('#members tbody tr').allTextContents()
  expect(members).toHaveLength(3)
  for (const id of ['node1', 'node2', 'node3']) expect(members.some((row) => row.includes(id))).toBe(true)
  expect(members.filter((row) => row.includes('up'))).toHaveLength(3)
  expect(await page.locator('#ring path').count()).toBeGreaterThan(0)
  expect(await page.locator('#ring-legend li').allTextContents()).toHaveLength(3)
  expect(await page.locator('#ready').textContent()).toBe('ready')

  // Traffic over a few polls, so the request charts and the engine figures have something to show.
  for (let round = 0; round < 4; round++) {
    await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      const key = `ui-${round}-${i}`
      expect((await putText(cluster.nodes[i % 3]!.url, key, `value ${i}`)).status).toBe(204)
      expect((await getKey(node.url, key)).status).toBe(200)
    }))
    await page.waitForTimeout(1_000)
  }
  await page.waitForFunction(() => document.querySelectorAll('#rate-chart polyline').length > 0, undefined, { timeout: 10_000 })
  expect(await page.locator('#request-figures').textContent()).toMatch(/requests since start/)
  // Every member's engine, asked by this node over the internode endpoint.
  expect(await page.locator('#engines h3').allTextContents()).toEqual(['node1', 'node2', 'node3'])
  expect(await page.locator('#engines svg.levels').count()).toBe(3)
  const screenshot = process.env.LEVELRING_UPDATE_SCREENSHOT === '1' ? DOCS_SCREENSHOT : join(profile, 'dashboard.png')
  await page.screenshot({ path: screenshot, fullPage: true })
  expect(statSync(screenshot).size).toBeGreaterThan(10_000)

  // A phone: everything stacks into one column; nothing is wider than the screen but the tables, which scroll.
  await page.setViewportSize({ width: 390, height: 844 })
  await page.waitForTimeout(300)
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  expect(overflow).toBeLessThanOrEqual(0)
  expect(errors).toEqual([])
  await page.close()
})
