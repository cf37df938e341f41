import type { KyselyPlugin } from 'kysely'
import t from 'tap'
import { SESSION_COOKIE } from '../../src/plugins/session.js'
import { withScopes } from '../helpers/scoped-world.js'
import { anotherInstance, serviceWithGitHub } from '../helpers/service.js'
import { signIn } from '../helpers/sign-in.js'
import { auditActions, csrfOf, followSetup, formAction, installOnGitHub, press, settled, view } from '../helpers/wizard.js'

function section(body: string, owner: string): string {
  const start = body.indexOf(`id="owner-${owner}"`)
  if (start < 0) throw new Error(`no batch for ${owner}`)
  const end = body.indexOf('</section>', start)
  return body.slice(start, end)
}

// These walk the flows of each role (an owner installs, a member asks and the approver is
// named), so mona's and octo's legacy tokens hold read:org, the scope the vendor would have
// asked for: GitHub tells the wizard their roles. With the demo world's tokens as they are
// (no org scope, role unknown), the walk is test/demo-walkthrough.test.ts.
const ROLES_READABLE = () => withScopes({ mona: ['read:org'], octo: ['read:org'] })

t.test('mona, the org owner: every owner she can install on reaches "covered" in two clicks; widgets waits for its owner', async (t) => {
  const service = await serviceWithGitHub(t, ROLES_READABLE())
  const { app, sim } = service
  const cookie = await signIn(app, sim, 1)
  const first = await view(app, cookie)
  t.equal(first.statusCode, 200)
  t.match(section(first.body, 'mona'), 'Install on mona')
  t.match(section(first.body, 'acme'), 'Install on acme')
  t.match(section(first.body, 'acme'), 'all repositories')
  t.match(section(first.body, 'widgets'), 'Ask the owners of widgets')

  // mona's own account: click 1 (Install here), click 2 (Install on GitHub).
  const toGitHub = await press(app, cookie, formAction(first.body, 'Install on mona'))
  t.equal(toGitHub.statusCode, 303)
  const link = new URL(toGitHub.headers.location as string)
  t.equal(`${link.origin}${link.pathname}`, `${sim.url}/apps/acme-ci/installations/new/permissions`)
  t.equal(link.searchParams.get('suggested_target_id'), '1')
  t.same(link.searchParams.getAll('repository_ids[]').sort(), ['1000', '1001', '1002'])
  const back = await followSetup(app, sim, cookie, installOnGitHub(sim, link.toString(), 'mona'), 1)
  t.equal(back.statusCode, 302)
  t.equal(back.headers.location, '/migrate#owner-mona')
  await settled(service)
  t.match(section((await view(app, cookie)).body, 'mona'), /Covered[\s\S]*3 covered/)

  // acme has an org hook: installed on all repositories.
  const acmeLink = (await press(app, cookie, formAction((await view(app, cookie)).body, 'Install on acme'))).headers.location as string
  t.same(new URL(acmeLink).searchParams.getAll('repository_ids[]'), [], 'no preselection: all repositories')
  await followSetup(app, sim, cookie, installOnGitHub(sim, acmeLink, 'mona'), 1)
  await settled(service)
  const acme = section((await view(app, cookie)).body, 'acme')
  t.match(acme, /Covered[\s\S]*3 covered/)
  t.match(acme, 'is replaced by the installation')

  // widgets: mona is a member, so GitHub makes it a request to its owners.
  const widgetsLink = (await press(app, cookie, formAction((await view(app, cookie)).body, 'Ask the owners of widgets'))).headers.location as string
  const requested = await followSetup(app, sim, cookie, installOnGitHub(sim, widgetsLink, 'mona'), 1)
  t.equal(requested.statusCode, 303)
  const waiting = section((await view(app, cookie)).body, 'widgets')
  t.match(waiting, 'Waiting for approval')
  t.match(waiting, 'Who can approve it on GitHub: <strong>octo</strong>')

  // While she waits, mona agrees to the removal the approval will allow, so she need not come
  // back for it; agreeing to remove them "now" means nothing before the App is there.
  const remove = (page: string, auto: boolean) =>
    app.inject({ method: 'POST', url: formAction(page, 'Remove old webhooks as soon as the App covers them'), cookies: { [SESSION_COOKIE]: cookie }, payload: { _csrf: csrfOf(page), ...(auto ? { auto: 'on' } : {}) } })
  const beforeAgreeing = (await view(app, cookie)).body
  const now = await remove(beforeAgreeing, false)
  t.equal(now.statusCode, 409)
  t.match(now.body, 'The App is not installed on widgets yet')
  t.notOk(await service.tdb.db.selectFrom('app.cleanup_consent').selectAll().executeTakeFirst(), 'refused: nothing agreed')
  t.equal((await remove(beforeAgreeing, true)).statusCode, 303)
  await settled(service)
  const agreed = await view(app, cookie)
  t.match(section(agreed.body, 'widgets'), 'Its 1 old webhook goes as soon as the App covers it: you agreed to automatic removal.')
  t.match(section(agreed.body, 'mona'), 'Done', 'agreed on every account: what the App covers already goes now')

  const [request] = [...sim.state.requests.values()]
  const approved = await sim.sim.app.inject({ method: 'POST', url: `/_sim/requests/${request!.id}/approve`, payload: { approver: 'octo' } })
  t.equal(approved.statusCode, 200)
  await settled(service)
  const widgets = section((await view(app, cookie)).body, 'widgets')
  t.match(widgets, 'Done', 'approved, covered and its old webhook removed with no visit in between')
  t.match(widgets, 'Old webhooks: 1 removed, 0 remaining')
  const legacyHooks = new Set((await service.tdb.db.selectFrom('legacy.webhooks').select('hook_id').execute()).map((h) => Number(h.hook_id)))
  const widgetsId = sim.state.accountByLogin('widgets')!.id
  const left = [...sim.state.repos.values()].filter((r) => r.ownerId === widgetsId).flatMap((r) => [...r.hooks.keys()].filter((id) => legacyHooks.has(id)))
  t.same(left, [], 'no old hook left on widgets')

  const actions = await auditActions(service)
  for (const action of ['sign_in', 'batch_planned', 'install_link_issued', 'installation_verified', 'coverage_checked', 'request_pending', 'webhook_received', 'installation_created']) {
    t.ok(actions.includes(action), `audited: ${action}`)
  }
})

t.test('octo, owner of widgets and member of acme: installs widgets in two clicks, asks acme; hubot, revoked, is told so', async (t) => {
  const service = await serviceWithGitHub(t, ROLES_READABLE())
  const { app, sim } = service
  const octo = await signIn(app, sim, 3)
  const first = await view(app, octo)
  t.match(section(first.body, 'widgets'), 'Install on widgets')
  t.match(section(first.body, 'acme'), 'Ask the owners of acme')
  const link = (await press(app, octo, formAction(first.body, 'Install on widgets'))).headers.location as string
  const back = await followSetup(app, sim, octo, installOnGitHub(sim, link, 'octo'), 3)
  t.equal(back.headers.location, '/migrate#owner-widgets')
  await settled(service)
  t.match(section((await view(app, octo)).body, 'widgets'), /Covered[\s\S]*1 covered/)

  const hubot = await signIn(app, sim, 2)
  const page = await view(app, hubot)
  t.equal(page.statusCode, 200)
  t.match(page.body, 'Your legacy authorization was revoked')
  t.notMatch(page.body, /<form method="post" action="\/migrate\/batches/, 'nothing to press')
})

t.test('a page read while a coverage check ends shows one moment: the check under way, or its result; an Install pressed on it then goes back to the page', async (t) => {
  const service = await serviceWithGitHub(t, ROLES_READABLE())
  const { app, sim, tdb } = service
  const cookie = await signIn(app, sim, 1)
  const link = (await press(app, cookie, formAction((await view(app, cookie)).body, 'Install on mona'))).headers.location as string
  await followSetup(app, sim, cookie, installOnGitHub(sim, link, 'mona'), 1)
  await settled(service)
  const batch = await tdb.db.selectFrom('app.batch').select('id').where('user_id', '=', 1).where('owner_id', '=', 1).executeTakeFirstOrThrow()
  // Back to the moment after the install: the check of mona's coverage waits for its turn.
  const checkWaits = async (waiting: boolean) => {
    await tdb.db.updateTable('app.batch_repo').set({ coverage: waiting ? 'unknown' : 'covered' }).where('batch_id', '=', batch.id).execute()
    await tdb.db.updateTable('app.background_work').set({ state: waiting ? 'queued' : 'done', phase: null, done: null, total: null }).where('kind', '=', 'coverage').where('subject_id', '=', 1).execute()
  }
  await checkWaits(true)

  // An instance whose page read lets the check end, and commit, right after its first query.
  let endCheck: (() => Promise<void>) | undefined = () => checkWaits(false)
  const interleaving: KyselyPlugin = {
    transformQuery: (args) => args.node,
    async transformResult(args) {
      const end = endCheck
      if (end !== undefined && JSON.stringify(args.result.rows).includes('planned_at')) {
        endCheck = undefined
        await end()
      }
      return args.result
    },
  }
  const other = await anotherInstance(t, service, { db: { ...tdb, db: tdb.db.withPlugin(interleaving) } })
  const page = await other.inject({ url: '/migrate', cookies: { [SESSION_COOKIE]: cookie } })
  t.equal(endCheck, undefined, 'the check ended during the read')
  const mona = section(page.body, 'mona')
  t.match(mona, 'The coverage check on mona is waiting for its turn', 'the page shows the moment its read began: the check waiting')
  t.match(mona, 'not checked yet')

  // Pressed on that page: nothing is left to install, and the page says what comes next.
  const links = await tdb.db.selectFrom('app.install_state').select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
  const pressed = await app.inject({ method: 'POST', url: formAction(page.body, 'Install on mona'), cookies: { [SESSION_COOKIE]: cookie }, payload: { _csrf: csrfOf(page.body) } })
  t.equal(pressed.statusCode, 303)
  t.equal(pressed.headers.location, '/migrate#owner-mona')
  t.same(await tdb.db.selectFrom('app.install_state').select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(), links, 'no link issued')
  t.match(section((await view(app, cookie)).body, 'mona'), /Covered[\s\S]*3 covered/)
})
