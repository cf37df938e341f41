import t from 'tap'
import { launchChromium } from './helpers/chromium.js'
import { arrive, signInWithGitHub, startDemoOnFreePorts, watch } from './helpers/demo.js'
import { DESKTOP } from './helpers/screenshots.js'
import type { PageProgress } from './helpers/wizard.js'

// The page's own script (views/assets/progress.js) reloads /migrate once a check it shows ends.
// A person who pressed another owner's button just before must still get where it leads: a
// fresh-clone CI run of 2026-12-02 lost such a press (mona's second check ended while acme's
// install was on its way to GitHub, and the reload brought her back to /migrate). Here GitHub's
// install page is held until the check has ended and the page's script has had time to see it.

t.test('a button pressed while a check ends: the browser goes where it leads, and is not reloaded back', async (t) => {
  const demo = await startDemoOnFreePorts(t)
  const gh = demo.githubUrl
  const browser = await launchChromium(t)
  const context = await browser.newContext({ viewport: DESKTOP })
  const page = await context.newPage()
  page.setDefaultTimeout(10_000)
  watch(page)
  const onMigrate = (url: URL): boolean => url.origin === demo.url && url.pathname === '/migrate'
  const onInstallPage = (url: URL): boolean => url.origin === gh && url.pathname.endsWith('/installations/new/permissions')
  const checking = page.locator('section#owner-mona [data-coverage-progress]')
  const faults = (latencyMs: number) => fetch(`${gh}/_sim/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ latencyMs }) })

  await signInWithGitHub(page, demo, 'mona')
  await arrive(page, onMigrate, '/migrate')
  await page.getByRole('heading', { name: 'Your migration', exact: true }).waitFor()
  await page.getByRole('button', { name: 'Install on mona', exact: true }).click()
  await arrive(page, onInstallPage, "GitHub's install page")
  await page.getByRole('button', { name: 'Install', exact: true }).click()
  await arrive(page, onMigrate, '/migrate')
  await page.locator('section#owner-mona .status.ok').waitFor()
  await checking.waitFor({ state: 'detached' })

  // Every request to GitHub's API slow: mona's next check is under way long enough to press on.
  t.equal((await faults(1500)).status, 200)
  await page.locator('section#owner-mona').getByRole('button', { name: 'Check again', exact: true }).click()
  await arrive(page, onMigrate, '/migrate')
  await checking.waitFor()
  t.match(await page.locator('section#owner-mona').innerText(), 'This page updates by itself', "the check is under way, and the page's script watches it")
  t.equal((await faults(0)).status, 200)

  // The press (its POST; a redirect's target cannot be held) is answered only once the service
  // says the check has ended, and a poll of the page's (one a second) has come and gone since.
  const install = `${demo.url}/migrate/batches/*/install`
  let held = 0
  await page.route(install, async (route) => {
    held++
    for (let i = 0; i < 100; i++) {
      const progress = (await (await context.request.get(`${demo.url}/migrate/progress`, { headers: { accept: 'application/json' } })).json()) as PageProgress
      if (!progress.coverage.some((c) => c.underWay)) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    await new Promise((resolve) => setTimeout(resolve, 2_500))
    await route.continue().catch(() => {})
  })
  await page.getByRole('button', { name: 'Install or ask the owners of acme on GitHub', exact: true }).click()
  await arrive(page, onInstallPage, "GitHub's install page for acme")
  t.equal(held, 1, 'the press was held until the check ended')
  t.match(await page.textContent('main'), 'on acme', "GitHub's install page for acme, as pressed")
  await page.unroute(install)

  // Back on /migrate, the check's result is there.
  await page.goto(`${demo.url}/migrate`)
  t.match(await page.locator('section#owner-mona').innerText(), 'Covered', 'mona is covered')
  t.equal(await checking.count(), 0, 'and no check is under way')
})
