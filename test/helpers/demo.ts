import { randomBytes } from 'node:crypto'
import type { Page, Response } from 'playwright-core'
import type { Test } from 'tap'
import { startDemo, type Demo } from '../../src/demo.js'
import { adminQuery, testDatabase } from './database.js'

// What the tests of the demo share: the demo on free ports with a throwaway database, and for
// the browser tests, what the browser was shown and waiting for it to arrive somewhere.

/** Every page the browser was shown (main frame), with its URL and status. */
export interface Seen {
  url: string
  status: number
  body: Promise<string>
}

/** What each watched page's console said (a refused navigation, a CSP violation), for arrive's error. */
const consoles = new WeakMap<Page, string[]>()

export function consoleOf(page: Page): string[] {
  return consoles.get(page) ?? []
}

export function watch(page: Page): Seen[] {
  const seen: Seen[] = []
  const lines: string[] = []
  consoles.set(page, lines)
  page.on('console', (message) => {
    const where = message.location().url
    lines.push(`${message.type()}: ${message.text()}${where ? ` [${where}]` : ''}`)
  })
  page.on('response', (response: Response) => {
    const request = response.request()
    if (!request.isNavigationRequest()) {
      if (response.status() >= 400) lines.push(`${response.status()} for ${response.url()}`)
      return
    }
    if (request.frame() !== page.mainFrame()) return
    const status = response.status()
    const location = response.headers()['location'] ?? ''
    // A redirect has no body; what could leak there is its Location.
    const body = status >= 300 && status < 400 ? Promise.resolve(`Location: ${location}`) : response.text().catch(() => '')
    seen.push({ url: response.url(), status, body })
  })
  return seen
}

/** Waits for the browser to arrive where `where` says; if it does not, says where it is instead. */
export async function arrive(page: Page, where: (url: URL) => boolean, what: string): Promise<void> {
  try {
    await page.waitForURL(where)
  } catch {
    const text = (await page.locator('body').innerText().catch(() => '')).replace(/\s+/g, ' ').slice(0, 600)
    const lines = consoleOf(page)
    const said = lines.length === 0 ? '' : ` (console: ${lines.join(' | ')})`
    throw new Error(`expected ${what}, but the browser is at ${page.url()}${said}: ${text}`)
  }
}

/** A Postgres server for the demo, and the name of a database on it dropped when the test ends. */
export async function throwawayDemoDatabase(t: Test, prefix: string): Promise<{ server: string; database: string }> {
  const server = (await testDatabase(t, { migrate: false })).url
  const database = `${prefix}_${randomBytes(4).toString('hex')}`
  t.teardown(() => adminQuery(server, `drop database if exists ${database} with (force)`))
  return { server, database }
}

/** The demo on free ports with a throwaway database; its own world file when a test names one. */
export async function startDemoOnFreePorts(t: Test, worldFile?: string): Promise<Demo> {
  const { server, database } = await throwawayDemoDatabase(t, 'demo_walk')
  const demo = await startDemo({ port: 0, githubPort: 0, host: '127.0.0.1', serverUrl: server, dataDir: '', database, logLevel: 'silent', ...(worldFile === undefined ? {} : { worldFile }) })
  t.teardown(() => demo.close())
  return demo
}

/** Called at each page of a walk through, before its click: a test's screenshots. */
export type Step = (page: Page, name: string) => Promise<void>

const noStep: Step = async () => {}

/**
 * Signs `login` in to the demo the way a person does: "Sign in with GitHub", the simulated
 * GitHub's sign-in, and its Authorize page the first time. Leaves the browser wherever the
 * service sends them; answers the Authorize page's heading. `step` sees each of those pages.
 */
export async function signInWithGitHub(page: Page, demo: Demo, login: string, step: Step = noStep): Promise<string> {
  await page.goto(demo.url)
  await step(page, 'landing')
  await page.getByRole('link', { name: 'Sign in with GitHub' }).first().click()
  await arrive(page, (url) => url.origin === demo.githubUrl, 'GitHub')
  await step(page, 'github-sign-in')
  await page.getByRole('button', { name: `Sign in as ${login}` }).click()
  await arrive(page, (url) => url.origin === demo.githubUrl && url.pathname === '/login/oauth/authorize', "GitHub's Authorize page")
  const heading = (await page.textContent('h1')) ?? ''
  await step(page, 'github-authorize')
  await page.getByRole('button', { name: /^Authorize/ }).click()
  await arrive(page, (url) => url.origin === demo.url, 'back at the service')
  return heading
}

/**
 * An org owner on the simulated GitHub's installations page of the org presses "Approve &
 * install" on the one pending request; GitHub sends them to the service's setup URL with no
 * state, as for any approval made later, and the service must show a confirmation, not an error.
 */
export async function approveOnGitHub(t: Test, page: Page, demo: Demo): Promise<void> {
  const [setup] = await Promise.all([
    page.waitForResponse((r) => r.url().startsWith(`${demo.url}/github/setup`) && r.request().isNavigationRequest()),
    page.getByRole('button', { name: 'Approve & install' }).click(),
  ])
  await page.waitForLoadState()
  const setupUrl = new URL(setup.url())
  t.equal(setupUrl.searchParams.get('setup_action'), 'install')
  t.equal(setupUrl.searchParams.get('state'), null, 'no state: the owner never started the flow')
  t.equal(setup.status(), 200, 'a confirmation page, not an error')
  t.match(await page.textContent('h1'), 'Installation received')
}
