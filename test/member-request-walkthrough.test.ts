import { readFile } from 'node:fs/promises'
import path from 'node:path'
import type { Browser, Page } from 'playwright-core'
import t, { type Test } from 'tap'
import { DEMO_RECEIVER_SECRET, type Demo } from '../src/demo.js'
import { projectRoot } from '../src/project-root.js'
import { launchChromium } from './helpers/chromium.js'
import { approveOnGitHub, arrive, consoleOf, signInWithGitHub, startDemoOnFreePorts, watch, type Seen } from './helpers/demo.js'
import { DESKTOP, screenshots, type Screenshots } from './helpers/screenshots.js'
import { hooksOf, installationOn, simState, type SimState } from './helpers/sim-state.js'

// Issue 12's second and third walks in a real browser, on the demo's stack with a world of
// their own (test/fixtures/worlds/member-request.json): lin, a member of globex and not an
// owner, asks for the App on globex; gus, its owner, approves on the simulated GitHub and never
// signs in here; the webhook, the coverage check and the removal of the old webhooks run by
// themselves, and lin's next visit reads Done. Then sam (support) finds lin's story from the
// address of a globex repository, and olga (operator) downloads the before-state report, whose
// rows must be the world's old webhooks, each once, with what became of it.

const WORLD = path.join(projectRoot(), 'test', 'fixtures', 'worlds', 'member-request.json')
const LEGACY_URL = 'https://ci.example.com/hooks/github'

/**
 * What the world's legacy registrations say, and what the walk does to each: removed with the
 * enabling user's legacy token where it administers the repository (lin's own, gus on globex),
 * else with the App's Webhooks permission (lin, a member with read access, cannot touch
 * globex's hooks any more); gus's own and pat's, whom nobody migrates, stay active.
 */
const LEGACY = [
  { hook: 7000, owner: 'lin', repository: 'lin/notes', repoId: 2000, enabledBy: 'lin', status: 'removed', credential: 'legacy' },
  { hook: 7100, owner: 'globex', repository: 'globex/api', repoId: 2100, enabledBy: 'lin', status: 'removed', credential: 'installation' },
  { hook: 7101, owner: 'globex', repository: 'globex/app', repoId: 2101, enabledBy: 'lin', status: 'removed', credential: 'installation' },
  { hook: 7103, owner: 'globex', repository: 'globex/docs', repoId: 2102, enabledBy: 'gus', status: 'removed', credential: 'legacy' },
  { hook: 7200, owner: 'gus', repository: 'gus/blog', repoId: 2200, enabledBy: 'gus', status: 'active', credential: '' },
  { hook: 7300, owner: 'pat', repository: 'pat/tools', repoId: 2300, enabledBy: 'pat', status: 'active', credential: '' },
] as const

async function newPage(browser: Browser): Promise<{ page: Page; seen: Seen[] }> {
  const page = await (await browser.newContext({ viewport: DESKTOP, acceptDownloads: true })).newPage()
  page.setDefaultTimeout(10_000)
  return { page, seen: watch(page) }
}

/** The text of each item of a timeline's section, as a person reads it. */
async function items(page: Page, heading: string): Promise<string[]> {
  const texts = await page.locator('section', { has: page.getByRole('heading', { name: heading, exact: true }) }).locator('li').allInnerTexts()
  return texts.map((text) => text.replace(/\s+/g, ' ').trim())
}

/** The text of the owner's section on /migrate. */
async function section(page: Page, owner: string): Promise<string> {
  return page.locator(`section#owner-${owner}`).innerText()
}

/** What the vendor's legacy receiver is told about a hook (GET /legacy/hooks/{id}). */
async function hookState(demo: Demo, hookId: number): Promise<string> {
  const response = await fetch(`${demo.url}/legacy/hooks/${hookId}`, { headers: { authorization: `Bearer ${DEMO_RECEIVER_SECRET}` } })
  return ((await response.json()) as { state: string }).state
}

/** Waits, a few ms at a time, until the service records every hook as `state`; answers how long it took. */
async function recorded(demo: Demo, hookIds: number[], state: string, withinMs: number): Promise<number> {
  const started = Date.now()
  for (;;) {
    const states = await Promise.all(hookIds.map((id) => hookState(demo, id)))
    if (states.every((s) => s === state)) return Date.now() - started
    if (Date.now() - started > withinMs) throw new Error(`hooks ${hookIds.join(', ')} are ${states.join(', ')} after ${withinMs} ms, not ${state}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** No page shown with an error status, nothing in the console. */
function clean(t: Test, who: string, page: Page, seen: Seen[]): void {
  for (const s of seen) if (s.status >= 400) t.fail(`${who} was shown ${s.status} at ${s.url}`)
  t.same(consoleOf(page), [], `nothing in ${who}'s console (no CSP refusal, no failed load)`)
}

/** The rows of an RFC 4180 CSV file (quoted cells, doubled quotes, CRLF or LF) as objects by its header. */
function csvRows(text: string): Record<string, string>[] {
  const rows: string[][] = [[]]
  let cell = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') cell += text[++i]
      else if (c === '"') quoted = false
      else cell += c
    } else if (c === '"') quoted = true
    else if (c === ',') rows.at(-1)!.push(cell), (cell = '')
    else if (c === '\n') rows.at(-1)!.push(cell.replace(/\r$/, '')), rows.push([]), (cell = '')
    else cell += c
  }
  if (cell !== '' || rows.at(-1)!.length > 0) rows.at(-1)!.push(cell)
  const [header, ...body] = rows.filter((r) => r.length > 0)
  return body.map((r) => Object.fromEntries(header!.map((name, i) => [name, r[i] ?? ''])))
}

/** lin: her own account installed and its old webhook removed, agreeing to automatic removal; then the request for globex. */
async function linRequests(t: Test, browser: Browser, demo: Demo, shots: Screenshots): Promise<{ page: Page; seen: Seen[]; clicks: number }> {
  const { page, seen } = await newPage(browser)
  const { shoot } = shots
  const gh = demo.githubUrl
  const onMigrate = (url: URL): boolean => url.origin === demo.url && url.pathname === '/migrate'
  const onInstallPage = (url: URL): boolean => url.origin === gh && url.pathname.endsWith('/installations/new/permissions')
  t.match(await signInWithGitHub(page, demo, 'lin', shoot), 'Authorize')
  await arrive(page, onMigrate, '/migrate')
  await page.getByRole('heading', { name: 'Your migration', exact: true }).waitFor()
  t.match(await section(page, 'lin'), 'Install on lin')
  const globex = await section(page, 'globex')
  t.match(globex, 'You are a member of globex', 'her token reads her role: a member of globex')
  t.match(globex, 'Ask the owners of globex')
  t.match(globex, /globex\/docs\s+enabled by gus/, "globex/docs, enabled by gus, is in her batch: she can see it")
  await shoot(page, 'migrate-planned')

  // From here every click counts. Her own account: Install on lin, Install on GitHub.
  let clicks = 0
  await page.getByRole('button', { name: 'Install on lin', exact: true }).click()
  clicks++
  await arrive(page, onInstallPage, "GitHub's install page")
  await shoot(page, 'github-install-lin')
  await page.getByRole('button', { name: 'Install', exact: true }).click()
  clicks++
  await arrive(page, onMigrate, '/migrate')
  const lin = page.locator('section#owner-lin')
  await lin.locator('.status.ok').waitFor()
  await shoot(page, 'covered-lin')
  // The one consent, "automatically" ticked as the page offers it: it covers globex later too.
  t.ok(await lin.getByRole('checkbox', { name: /Remove them automatically/ }).isChecked(), '"automatically" is ticked')
  await lin.getByRole('button', { name: 'Remove 1 old webhook', exact: true }).click()
  clicks++
  await lin.locator('.status.ok', { hasText: 'Done' }).waitFor({ timeout: 30_000 })
  t.match(await section(page, 'lin'), /Old webhooks: 1 removed, 0 remaining/)
  await shoot(page, 'done-lin')

  // globex: Ask the owners (click), then GitHub's page offers a member Request (click).
  await page.getByRole('button', { name: 'Ask the owners of globex', exact: true }).click()
  clicks++
  await arrive(page, onInstallPage, "GitHub's install page")
  t.match(await page.textContent('h1'), 'Request', 'GitHub offers a member a request, not an install')
  t.match(await page.textContent('main'), 'globex')
  await shoot(page, 'github-request-globex')
  await page.getByRole('button', { name: 'Request', exact: true }).click()
  clicks++
  await arrive(page, onMigrate, '/migrate')
  t.equal(new URL(page.url()).hash, '#owner-globex')
  const waiting = await section(page, 'globex')
  t.match(waiting, 'Waiting for approval')
  t.match(waiting, 'Who can approve it on GitHub: gus', 'the page names who approves: gus, as GitHub lists the owners to her')
  await shoot(page, 'waiting-globex')
  return { page, seen, clicks }
}

/** gus, in a browser of his own that never visits the service but for GitHub's redirect: approves on GitHub. */
async function gusApproves(t: Test, browser: Browser, demo: Demo, shots: Screenshots): Promise<number> {
  const { page, seen } = await newPage(browser)
  const gh = demo.githubUrl
  let clicks = 0
  await page.goto(`${gh}/login`)
  await page.getByRole('button', { name: 'Sign in as gus' }).click()
  clicks++
  await page.goto(`${gh}/organizations/globex/settings/installations`)
  const pending = (await page.locator('main').innerText()).replace(/\s+/g, ' ')
  t.match(pending, 'lin requested Acme CI for globex/api, globex/app, globex/docs', "lin's request, with the repositories of her batch")
  await shots.shoot(page, 'github-gus-approves')
  await approveOnGitHub(t, page, demo)
  clicks++
  t.notMatch(await page.locator('header.site').innerText(), 'Signed in as', 'gus has no session here')
  await shots.shoot(page, 'setup-received-gus')
  clean(t, 'gus', page, seen)
  return clicks
}

t.test('a member asks, the owner approves on GitHub, the rest runs by itself; support finds her story from a repository address; the operator downloads the before-state report', async (t) => {
  const demo = await startDemoOnFreePorts(t, WORLD)
  const browser = await launchChromium(t)
  const before = await simState(demo.githubUrl)
  t.same(
    hooksOf(before).filter((h) => h.url === LEGACY_URL).map((h) => h.id),
    LEGACY.map((h) => h.hook),
    "the world's old webhooks on GitHub are those of its legacy registrations",
  )

  let after: SimState | undefined
  await t.test('lin, a member of globex, asks for the App; gus approves on GitHub with no session here; removal runs by itself; lin sees Done', async (t) => {
    const shots = await screenshots(t, 'member-request')
    const lin = await linRequests(t, browser, demo, shots)
    const gusClicks = await gusApproves(t, browser, demo, shots)

    // Nobody on the service's pages: the webhook, the coverage check and the removal run by
    // themselves. The vendor's receiver (GET /legacy/hooks/{id}) says when all three are removed.
    const ms = await recorded(demo, [7100, 7101, 7103], 'removed', 30_000)
    t.comment(`globex's old webhooks removed ${ms} ms after gus's approval`)

    // lin's next visit: Done, without a click.
    await lin.page.goto(`${demo.url}/migrate`)
    const globex = await section(lin.page, 'globex')
    t.match(globex, /Done/, 'globex reads Done on her next visit')
    t.match(globex, /Old webhooks: 3 removed, 0 remaining/)
    await shots.shoot(lin.page, 'done-globex')
    t.comment(`clicks after sign-in: lin ${lin.clicks} (her account 3, globex 2, the next visit 0), gus ${gusClicks} on GitHub (sign in, approve)`)
    t.equal(lin.clicks, 5)
    t.equal(gusClicks, 2)

    after = await simState(demo.githubUrl)
    const covers = (account: string): number[] => (installationOn(after!, account)?.repositories ?? []).map((r) => r.id).sort()
    t.same(covers('globex'), [2100, 2101, 2102], 'the App on globex covers the repositories of her request')
    t.equal(installationOn(after, 'globex')?.repositorySelection, 'selected')
    t.same(covers('lin'), [2000])
    t.same(after.requests, [], "gus's approval left no request pending")
    const removed = new Set<number>(LEGACY.filter((h) => h.status === 'removed').map((h) => h.hook))
    t.same(hooksOf(after), hooksOf(before).filter((h) => !removed.has(h.id)), "GitHub lost the old webhooks of the covered repositories and nothing else (chat.example.org's on globex/app stays)")
    t.equal(after.breaches.total, 0, "within GitHub's limits")
    clean(t, 'lin', lin.page, lin.seen)
  })

  await t.test("sam (support) finds lin's story from globex/api's address; olga (operator) downloads the before-state report, which matches the world", async (t) => {
    const shots = await screenshots(t, 'support-and-report')
    const onStaff = (where: string) => (url: URL): boolean => url.origin === demo.url && url.pathname === where

    // sam, in a browser of his own: signing in lands him on the console.
    const sam = await newPage(browser)
    await signInWithGitHub(sam.page, demo, 'sam')
    await arrive(sam.page, onStaff('/staff'), 'the staff console')
    t.notMatch(await sam.page.locator('header.site').innerText(), 'Before-state report', 'support is offered no report')
    await sam.page.getByRole('searchbox', { name: 'What happened to…' }).fill('https://github.com/globex/api')
    await shots.shoot(sam.page, 'staff-console-pasted')
    let samClicks = 0
    await sam.page.getByRole('button', { name: 'Find', exact: true }).click()
    samClicks++
    await arrive(sam.page, onStaff('/staff/timeline/repo/2100'), "globex/api's timeline")
    t.equal((await sam.page.locator('h1').innerText()).trim(), 'globex/api (repository)')
    t.same(await items(sam.page, 'Where things stand'), ['globex/api: covered by the App', '1 old webhook of it removed'])
    const removal = (await items(sam.page, 'What happened')).map((line) => line.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d /, '')).slice(-3)
    t.same(removal, ['old webhook 7100 on globex/api: to be removed', "old webhook 7100 on globex/api: deleting it with the App's permission (attempt 1)", 'old webhook 7100 on globex/api: removed'], 'how its old webhook went')
    t.same(await items(sam.page, 'Its users'), ['lin: enabled its old webhook, and has it in their plan'])
    await shots.shoot(sam.page, 'globex-api-timeline')
    await sam.page.getByRole('link', { name: 'lin', exact: true }).click()
    samClicks++
    await arrive(sam.page, onStaff('/staff/timeline/user/21'), "lin's timeline")
    t.equal((await sam.page.locator('h1').innerText()).trim(), 'lin (user)')
    const summary = await items(sam.page, 'Where things stand')
    t.match(summary, [
      /^lin signed in 1 time, last on \d{4}-/,
      /^the App is installed on globex \(installation \d+\), covering 3 of 3 repositories$/,
      /^the App is installed on lin \(installation \d+\), covering 1 of 1 repository$/,
      '3 old webhooks that lin enabled removed',
    ], "lin's story, where things stand: both installed, her three old webhooks removed")
    // Her story is what she did (a user's timeline is the events that account did).
    const story = (await items(sam.page, 'What happened')).map((line) => line.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d /, ''))
    t.same(story.slice(-3), ['old webhook 7000 on lin/notes: to be removed', 'lin was sent to GitHub to install the App on globex', 'lin asked the owners of globex to install the App'], 'her request is the last thing she did')
    await shots.shoot(sam.page, 'lin-timeline')
    t.equal(samClicks, 2, 'two clicks after signing in: Find, then lin')
    clean(t, 'sam', sam.page, sam.seen)

    // olga, operator: the report from the console's menu, downloaded as a file.
    const olga = await newPage(browser)
    await signInWithGitHub(olga.page, demo, 'olga')
    await arrive(olga.page, onStaff('/staff'), 'the staff console')
    let olgaClicks = 0
    await olga.page.getByRole('link', { name: 'Before-state report', exact: true }).click()
    olgaClicks++
    await arrive(olga.page, onStaff('/staff/reports'), 'the report page')
    await shots.shoot(olga.page, 'before-state-report')
    const [download] = await Promise.all([olga.page.waitForEvent('download'), olga.page.getByRole('button', { name: 'Download', exact: true }).click()])
    olgaClicks++
    t.equal(olgaClicks, 2, 'two clicks after signing in: the report, Download')
    t.match(download.suggestedFilename(), /^before-state-\d{4}-\d\d-\d\d-\d{6}\.csv$/)
    const rows = csvRows(await readFile(await download.path(), 'utf8'))
    t.comment(`clicks after sign-in: sam ${samClicks}, olga ${olgaClicks}`)

    // Against the world: its legacy registrations, and the old app's hooks GitHub held before.
    const world = JSON.parse(await readFile(WORLD, 'utf8')) as { users: { id: number; login: string }[]; legacy_registrations: { hook_id: number; owner_login: string; repo_name: string; repo_id: number; github_user_id: number; hook_url: string }[] }
    const loginOf = new Map(world.users.map((u) => [u.id, u.login]))
    t.same(
      world.legacy_registrations.map((r) => [r.hook_id, `${r.owner_login}/${r.repo_name}`, loginOf.get(r.github_user_id)]),
      LEGACY.map((h) => [h.hook, h.repository, h.enabledBy]),
      "what this test expects is the world's legacy registrations",
    )
    t.equal(rows.length, world.legacy_registrations.length, 'one row a legacy hook, and no more')
    const installations = new Map(after!.installations.map((i) => [i.account, String(i.id)]))
    for (const h of LEGACY) {
      const matching = rows.filter((r) => r['hook_id'] === String(h.hook))
      t.equal(matching.length, 1, `hook ${h.hook} appears once`)
      const row = matching[0]!
      t.match(row, { owner: h.owner, repository: h.repository, repo_id: String(h.repoId), kind: 'repo', hook_url: LEGACY_URL, enabled_by: h.enabledBy, status: h.status }, `hook ${h.hook}: ${h.repository}, enabled by ${h.enabledBy}, ${h.status}`)
      if (h.status === 'removed') {
        t.match(row, { installation_id: installations.get(h.owner), credential: h.credential, frozen_at: /^\d{4}-/, finished_at: /^\d{4}-/ }, `hook ${h.hook}: removed with the ${h.credential} credential, covered by the installation on ${h.owner}, frozen before`)
        t.ok(Date.parse(row['covered_at']!) <= Date.parse(row['finished_at']!), `hook ${h.hook}: covered, then removed`)
      } else {
        t.match(row, { installation_id: '', covered_at: '', finished_at: '', credential: '' }, `hook ${h.hook}: untouched`)
      }
    }
    const legacyBefore = hooksOf(before).filter((h) => h.url === LEGACY_URL)
    t.same(legacyBefore.map((h) => String(h.id)), rows.map((r) => r['hook_id']).sort(), "every old app's hook GitHub held before is in the report")
    t.notOk(rows.some((r) => r['hook_id'] === '7102'), "chat.example.org's hook, never the old app's, is not")
    clean(t, 'olga', olga.page, olga.seen)
  })
})
