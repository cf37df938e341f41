import type { Page } from 'playwright-core'
import t from 'tap'
import { launchChromium } from './helpers/chromium.js'
import { approveOnGitHub, arrive, consoleOf, signInWithGitHub, startDemoOnFreePorts, watch } from './helpers/demo.js'
import { DESKTOP, screenshots } from './helpers/screenshots.js'
import { hooksOf, installationOn, simState } from './helpers/sim-state.js'

// The demo walkthrough of issue 4 in a real browser: `npm run demo` (here on free ports), the
// org owner signs in, and every owner she can install on reaches "Covered" in at most two
// clicks after sign-in; the org where she is only a member waits for its owner, who approves
// on GitHub, and then is covered too. Then one consent removes the old webhooks of every owner,
// each reads Done, and one click disconnects the old app. GitHub's side (/_sim/state) must then
// hold the App on every owner, over every repository, and no old webhook, but every other hook.
// Screenshots of each step, at 390 and 1200 px, in .data/screenshots/demo-walkthrough/.

const TOKEN = /\bgh[ousr]_[A-Za-z0-9_]+/

/**
 * The text of the owner's section on /migrate, waiting for it: the page's own script reloads it
 * when the work it shows ends, and a section counted in the middle of that reload was not there
 * yet (a fresh-clone CI run of 2026-12-02 read '' for acme just after mona's check ended).
 */
async function section(page: Page, owner: string): Promise<string> {
  return page.locator(`section#owner-${owner}`).innerText()
}

/** The owner's status on /migrate, reloading up to `reloads` times (for a webhook) until it matches. */
async function statusOf(page: Page, owner: string, want: RegExp, reloads: number): Promise<{ text: string; reloads: number }> {
  let text = await section(page, owner)
  let n = 0
  while (!want.test(text) && n < reloads) {
    await page.waitForTimeout(250)
    // The page's own script reloads it once the work it shows ends: a reload of ours at that
    // moment is cut short by it, and the page it loads is the one to read.
    await page.reload().catch(async (error: unknown) => {
      if (!/ERR_ABORTED|frame was detached/.test(String(error))) throw error
      await page.waitForLoadState('load')
    })
    n++
    text = await section(page, owner)
  }
  return { text, reloads: n }
}

t.test('the demo walkthrough in Chromium: mona reaches "Covered", then "Done", for every owner, and disconnects the old app', async (t) => {
  const demo = await startDemoOnFreePorts(t)
  const gh = demo.githubUrl
  const shots = await screenshots(t, 'demo-walkthrough')
  const shoot = shots.shoot
  const before = await simState(gh)
  const browser = await launchChromium(t)
  const context = await browser.newContext({ viewport: DESKTOP })
  const page = await context.newPage()
  page.setDefaultTimeout(10_000)
  const seen = watch(page)
  const onMigrate = (url: URL): boolean => url.origin === demo.url && url.pathname === '/migrate'

  // 1. Sign in with GitHub as mona; the first time, GitHub asks her to authorize the App.
  t.match(await signInWithGitHub(page, demo, 'mona', shoot), 'Authorize', 'GitHub asks mona to authorize the App the first time')
  await arrive(page, onMigrate, '/migrate')
  // Planning runs in the background: the page says so at once, and its script (the reload
  // without JavaScript sits in <noscript>) brings the plan up when it is done.
  t.match(await page.textContent('h1'), 'Planning your migration', 'planning is under way')
  await page.getByRole('heading', { name: 'Your migration', exact: true }).waitFor()
  t.match(await page.locator('header.site').innerText(), 'Signed in as mona')
  await shoot(page, 'migrate-planned')

  // 2. The owners mona can install on: Install here (click 1), Install on GitHub (click 2).
  // Her legacy token (repo and hook scopes, as the demo world's are) cannot read her role in
  // acme: the button says GitHub's install page decides, and there she is an owner.
  const clicks: Record<string, number> = {}
  const installLabel: Record<string, string> = { mona: 'Install on mona', acme: 'Install or ask the owners of acme on GitHub' }
  for (const owner of ['mona', 'acme']) {
    const label = installLabel[owner]!
    t.match(await section(page, owner), label, `${owner} offers the install`)
    clicks[owner] = 0
    await page.getByRole('button', { name: label, exact: true }).click()
    clicks[owner]++
    await arrive(page, (url) => url.origin === gh && url.pathname.endsWith('/installations/new/permissions'), "GitHub's install page")
    t.match(await page.textContent('h1'), 'Install', `GitHub's install page for ${owner}`)
    t.match(await page.textContent('main'), `on ${owner}`)
    await shoot(page, `github-install-${owner}`)
    await page.getByRole('button', { name: 'Install', exact: true }).click()
    clicks[owner]++
    await arrive(page, onMigrate, '/migrate')
    t.equal(new URL(page.url()).hash, `#owner-${owner}`, `back on /migrate at ${owner}`)
    // The coverage check runs in the background: the page shows it under way, and its script
    // brings the result in when it is done, with no click and no reload by hand.
    await page.locator(`section#owner-${owner} .status.ok`).waitFor()
    t.match(await section(page, owner), /Covered/, `${owner} is covered`)
    t.ok(clicks[owner]! <= 2, `${owner}: ${clicks[owner]} clicks from the migrate page`)
    await shoot(page, `covered-${owner}`)
  }

  // 3. widgets, where mona is a member: Install or ask (click 1); GitHub's install page offers a
  // member Request (click 2).
  t.match(await section(page, 'widgets'), 'Install or ask the owners of widgets on GitHub')
  clicks['widgets'] = 0
  await page.getByRole('button', { name: 'Install or ask the owners of widgets on GitHub', exact: true }).click()
  clicks['widgets']++
  await arrive(page, (url) => url.origin === gh && url.pathname.endsWith('/installations/new/permissions'), "GitHub's install page")
  t.match(await page.textContent('h1'), 'Request')
  await shoot(page, 'github-request-widgets')
  await page.getByRole('button', { name: 'Request', exact: true }).click()
  clicks['widgets']++
  await arrive(page, onMigrate, '/migrate')
  const waiting = await section(page, 'widgets')
  t.match(waiting, 'Waiting for approval', 'widgets waits for its owners')
  t.match(waiting, 'Any owner of widgets can approve it on GitHub', "who approves: widgets' owners on GitHub (her token cannot name them)")
  await shoot(page, 'waiting-widgets')

  // octo, an owner of widgets, approves on GitHub; GitHub sends them to the setup URL with no state.
  await page.goto(`${gh}/login`)
  await page.getByRole('button', { name: 'Sign out' }).click()
  await arrive(page, (url) => url.href === `${gh}/`, "GitHub's front page")
  await page.goto(`${gh}/login`)
  await page.getByRole('button', { name: 'Sign in as octo' }).click()
  await page.goto(`${gh}/organizations/widgets/settings/installations`)
  t.match(await page.textContent('main'), 'mona', "mona's request is pending")
  await shoot(page, 'github-octo-approves-widgets')
  await approveOnGitHub(t, page, demo)
  await shoot(page, 'setup-received-octo')

  // Back as mona (the service's session is still hers): widgets is covered once the webhook is in.
  await page.goto(`${demo.url}/migrate`)
  t.match(await page.locator('header.site').innerText(), 'Signed in as mona')
  const widgets = await statusOf(page, 'widgets', /Covered/, 20)
  t.match(widgets.text, /Covered/, 'widgets is covered after the approval')
  t.comment(`widgets covered after ${widgets.reloads} reload(s) of /migrate`)
  for (const owner of ['mona', 'acme', 'widgets']) t.match(await section(page, owner), /Covered/, `${owner} still covered`)
  await shoot(page, 'covered-all')

  // 4. The old webhooks: agreed once, on mona's own account ("automatically" is ticked), they go
  // everywhere the App covers, and every owner reads Done; GitHub's side no longer has them.
  clicks['removal'] = 0
  await page.locator('section#owner-mona').getByRole('button', { name: /^Remove \d+ old webhooks?$/ }).click()
  clicks['removal']++
  for (const owner of ['mona', 'acme', 'widgets']) {
    const done = await statusOf(page, owner, /Done/, 40)
    t.match(done.text, /Done/, `${owner} is done`)
    t.match(done.text, /Old webhooks: \d+ removed, 0 remaining/)
  }
  await shoot(page, 'done-all')

  // 5. GitHub's side: the App on every owner, over every repository mona's batches hold (on all
  // of acme's, for its organization hook); not one of the old app's hooks; every other hook.
  const after = await simState(gh)
  const legacyUrl = 'https://ci.example.com/hooks/github'
  const legacyBefore = hooksOf(before).filter((h) => h.url === legacyUrl)
  t.same(legacyBefore.map((h) => h.id), [5000, 5001, 5003, 5100, 5101, 5102, 5200, 6000], "the old app's hooks before, as the world has them")
  t.same(hooksOf(after).filter((h) => h.url === legacyUrl), [], "no hook of the old app is left on GitHub")
  t.same(hooksOf(after), hooksOf(before).filter((h) => h.url !== legacyUrl), 'every other hook is kept as it was')
  const covers = (account: string): number[] => (installationOn(after, account)?.repositories ?? []).map((r) => r.id).sort()
  t.same(covers('mona'), [1000, 1001, 1002], "the App on mona covers each of her repositories (new-name, renamed since, too)")
  t.equal(installationOn(after, 'acme')?.repositorySelection, 'all', 'the App on acme is on all repositories: it replaces the organization webhook')
  t.same(covers('acme'), [1100, 1101, 1102])
  t.same(covers('widgets'), [1200], "the App on widgets covers widgets/core, by octo's approval")
  t.same(after.requests, [], 'no request is left pending')
  for (const h of legacyBefore) {
    const home = h.on.includes('/') ? after.installations.some((i) => i.repositories.some((r) => r.fullName === h.on)) : installationOn(after, h.on)?.repositorySelection === 'all'
    t.ok(home, `old hook ${h.id} on ${h.on}: the App covers where it was`)
  }

  // Then the old app goes: one click.
  await page.getByRole('button', { name: 'Disconnect the old app' }).click()
  await arrive(page, (url) => url.pathname === '/migrate', 'the migration page after disconnecting')
  t.match(await page.locator('section#disconnect').innerText(), /Disconnected/)
  await shoot(page, 'disconnected')

  t.comment(`clicks from /migrate: ${Object.entries(clicks).map(([o, n]) => `${o} ${n}`).join(', ')}`)
  for (const [owner, n] of Object.entries(clicks)) t.ok(n <= 2, `${owner}: at most two clicks (${n})`)
  t.equal(clicks['removal'], 1, 'the removal of every old webhook: one consent')

  // No page the browser saw, and no redirect, carried a token.
  t.ok(seen.length > 10, `${seen.length} pages and redirects seen`)
  for (const s of seen) {
    const body = await s.body
    const leak = TOKEN.exec(s.url) ?? TOKEN.exec(body)
    t.equal(leak?.[0], undefined, `no token on ${s.status} ${s.url}`)
    if (s.status >= 400) t.fail(`the browser was shown ${s.status} at ${s.url}: ${body.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 300)}`)
  }
  t.same(consoleOf(page), [], "nothing in the browser's console (no CSP refusal, no failed load)")
  t.comment(`screenshots in ${shots.dir}`)
})
