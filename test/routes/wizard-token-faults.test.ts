import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { projectRoot } from '../../src/project-root.js'
import { validateWorld, type World } from '../../src/simulator/world.js'
import { serviceWithGitHub, type Service } from '../helpers/service.js'
import { withScopes } from '../helpers/scoped-world.js'
import { signIn } from '../helpers/sign-in.js'
import { followSetup, formAction, installOnGitHub, press, settled, view } from '../helpers/wizard.js'

// A world where legacy tokens are what vendors really hold: corp enforces SAML single sign-on
// and only alice's token is approved for it (bob's holds read:org, but is not); erin's lacks read:org, and
// token fails with 502 on everything; carl's holds only `repo`, dora's only `read:user`; frank's
// org was renamed since it was recorded, and another org took its old login. Every user's
// wizard completes or explains; no page is a 5xx; the other users of corp reach Covered.

function faultWorld(): World {
  const file = path.join(projectRoot(), 'test', 'fixtures', 'worlds', 'token-faults.json')
  return validateWorld(JSON.parse(readFileSync(file, 'utf8')), file)
}

function section(body: string, owner: string): string {
  const start = body.indexOf(`id="owner-${owner}"`)
  if (start < 0) throw new Error(`no batch for ${owner}`)
  return body.slice(start, body.indexOf('</section>', start))
}

const IDS = { alice: 11, bob: 12, carl: 13, dora: 14, erin: 15, frank: 16 } as const

/** Every page a user gets, so the test can say none was a 5xx. */
function pages(service: Service) {
  const seen: { url: string; status: number }[] = []
  const keep = (url: string, res: LightMyRequestResponse): LightMyRequestResponse => {
    seen.push({ url, status: res.statusCode })
    return res
  }
  return {
    seen,
    view: async (cookie: string) => keep('/migrate', await view(service.app, cookie)),
    press: async (cookie: string, action: string) => keep(action, await press(service.app, cookie, action)),
    /** Install (or Request) on GitHub as `login` from the batch's button, then back through the setup URL. */
    install: async (cookie: string, label: string, login: keyof typeof IDS) => {
      const link = (await press(service.app, cookie, formAction((await view(service.app, cookie)).body, label))).headers.location as string
      const back = keep('/github/setup', await followSetup(service.app, service.sim, cookie, installOnGitHub(service.sim, link, login), IDS[login]))
      await settled(service)
      return { link: new URL(link), back }
    },
  }
}

t.test('SSO, missing scopes, a failing token and a renamed org: every wizard completes or explains, never a 5xx', async (t) => {
  const service = await serviceWithGitHub(t, faultWorld())
  const { app, sim } = service
  const p = pages(service)
  const sim_ = (method: 'POST' | 'PUT', url: string, payload: object) => sim.sim.app.inject({ method, url: `/_sim${url}`, payload })
  // frank's org is newco now, and "oldco" belongs to another org, which has the App installed.
  t.equal((await sim_('POST', '/accounts/oldco/rename', { login: 'newco' })).statusCode, 200)
  t.equal((await sim_('POST', '/accounts/other/rename', { login: 'oldco' })).statusCode, 200)
  // erin's token fails on the lookups it is asked for; everyone else's works. (Her repository
  // list answers, leaving corp out for single sign-on.)
  const erinFails = ['/repositories/{repository_id}', '/user/memberships/orgs/{org}'].map((pattern) => ({ pattern, status: 502, rate: 1, actor: 'erin' }))
  t.equal((await sim_('PUT', '/faults', { errors: erinFails })).statusCode, 200)

  // alice: an owner of corp, her token approved for its single sign-on: two clicks.
  const alice = await signIn(app, sim, IDS.alice)
  const aliceFirst = await p.view(alice)
  t.match(section(aliceFirst.body, 'corp'), 'Install on corp')
  const { link } = await p.install(alice, 'Install on corp', 'alice')
  t.same(link.searchParams.getAll('repository_ids[]').sort(), ['1300', '1301', '1302'], "others' repositories she can see are preselected too")
  t.match(section((await p.view(alice)).body, 'corp'), /Covered[\s\S]*3 covered/)

  // bob: a member whose token is not approved for corp's SSO: GitHub leaves corp out of his
  // organizations (partial results), and refuses his role and his repository there.
  const bob = await signIn(app, sim, IDS.bob)
  const bobPage = (await p.view(bob)).body
  const bobCorp = section(bobPage, 'corp')
  t.match(bobCorp, 'GitHub hides your role in corp from the old app&#39;s authorization: the organization uses SAML single sign-on')
  t.match(bobCorp, 'GitHub hides 3 repositories of corp from the old app&#39;s authorization')
  t.equal(bobCorp.split("Approve the old app for corp's single sign-on on GitHub").length - 1, 1, 'one link to approve it, not one per note')
  t.match(bobCorp, /href="http:\/\/127\.0\.0\.1:\d+\/orgs\/corp\/sso\?authorization_request=[0-9a-f]+"/, "GitHub's single sign-on link, to approve the old app")
  t.match(bobCorp, 'corp/web (private) <span class="muted">(hidden from the old authorization by single sign-on: as recorded)</span>')
  t.match(bobCorp, /Covered[\s\S]*Coverage: 1 covered/, 'covered by the installation alice made, found as the App')

  // erin: GitHub fails her lookups; her batch is still covered by corp's installation.
  const erin = await signIn(app, sim, IDS.erin)
  const erinPage = (await p.view(erin)).body
  // (Her lack of read:org is said before GitHub gets to fail: GitHub checks scopes first.)
  t.match(section(erinPage, 'corp'), 'GitHub did not answer for 3 repositories of corp (HTTP 502): look again in a moment.')
  t.match(section(erinPage, 'corp'), /Covered[\s\S]*Coverage: 1 covered/)

  // carl: only `repo`: no organization list (GitHub says which scope), his own account installs in two clicks.
  const carl = await signIn(app, sim, IDS.carl)
  t.match((await p.view(carl)).body, 'lacks the read:org or user scope GitHub requires for the list of your organizations, and it cannot be widened. Your organizations are found from the repositories it can see instead.')
  await p.install(carl, 'Install on carl', 'carl')
  t.match(section((await p.view(carl)).body, 'carl'), /Covered[\s\S]*1 covered/)

  // dora: only `read:user`: her private repository is planned from her record, preselected by
  // id, and GitHub's page (where she is signed in) installs it.
  const dora = await signIn(app, sim, IDS.dora)
  const doraPage = section((await p.view(dora)).body, 'dora')
  t.match(doraPage, 'lacks the repo scope GitHub requires for 2 repositories of dora')
  t.match(doraPage, 'dora/secret (private) <span class="muted">(not visible to the old authorization: as recorded)</span>')
  t.match(doraPage, 'dora/#1502 (private)', 'a record without a name goes by its id')
  const doraInstall = await p.install(dora, 'Install on dora', 'dora')
  t.same(doraInstall.link.searchParams.getAll('repository_ids[]').sort(), ['1500', '1501', '1502'])
  t.match(section((await p.view(dora)).body, 'dora'), /Covered[\s\S]*3 covered/)

  // frank: his org hook was recorded on "oldco", now newco's old login, which another org holds
  // (with the App installed). That installation is not newco's and is never recorded.
  const frank = await signIn(app, sim, IDS.frank)
  const frankPage = (await p.view(frank)).body
  t.notMatch(section(frankPage, 'oldco'), /Covered|Installed/)
  t.same(await service.tdb.db.selectFrom('app.installation').select('id').where('id', '=', 902).execute(), [], "the other org's installation is not taken")
  // GitHub's page, from the owner's id, installs on newco (all repositories: the org hook).
  const frankInstall = await p.install(frank, 'Install or ask the owners of oldco on GitHub', 'frank')
  t.equal(frankInstall.link.searchParams.get('suggested_target_id'), '301')
  const after = (await p.view(frank)).body
  t.match(section(after, 'newco'), /Covered/, 'the batch goes by the login GitHub gives the installation')

  t.same(
    p.seen.filter((s) => s.status >= 500),
    [],
    'no page answered 5xx',
  )
  const state = (await sim.sim.app.inject({ url: '/_sim/state' })).json() as { breaches: { total: number } }
  t.equal(state.breaches.total, 0, "GitHub's secondary limits were never breached")
})

t.test('GitHub failing while an install is verified: a page that says so, nothing spent, and "Look again" finds the installation', async (t) => {
  const service = await serviceWithGitHub(t, faultWorld())
  const { app, sim } = service
  const carl = await signIn(app, sim, IDS.carl)
  await view(app, carl)
  const link = (await press(app, carl, formAction((await view(app, carl)).body, 'Install on carl'))).headers.location as string
  sim.state.faults.errors = [{ method: 'GET', pattern: '/user/installations', status: 502, rate: 1 }]
  const back = await followSetup(app, sim, carl, installOnGitHub(sim, link, 'carl'), IDS.carl)
  t.equal(back.statusCode, 200)
  t.match(back.body, 'GitHub did not answer while we checked your installation with GitHub. Nothing was changed: try again in a moment.')
  t.match(back.body, 'href="/migrate"')
  t.same(await service.tdb.db.selectFrom('app.install_state').select('used_at').execute(), [{ used_at: null }], 'the state is not spent')
  sim.state.faults.errors = []
  t.equal((await press(app, carl, '/migrate/refresh')).statusCode, 303)
  t.match(section((await view(app, carl)).body, 'carl'), /Covered[\s\S]*1 covered/, 'found as the App, and covered')
})

t.test("a member who sees none of the org's enabled repositories gets no link: GitHub would read it as all repositories", async (t) => {
  // octo's token lists his organizations (read:org): acme is among them though he sees none of its repositories.
  const world = withScopes({ octo: ['read:org'] })
  // acme shares nothing with its members, and octo no longer collaborates on vault.
  world.orgs!.find((o) => o.login === 'acme')!.default_repository_permission = 'none'
  delete world.repos.find((r) => r.name === 'vault')!.collaborators
  // Without acme's org hook, which would ask for all repositories in its own right.
  world.legacy_registrations = world.legacy_registrations!.filter((r) => r.kind !== 'org')
  const service = await serviceWithGitHub(t, world)
  const { app, sim } = service
  const octo = await signIn(app, sim, 3)
  const acme = section((await view(app, octo)).body, 'acme')
  t.match(acme, 'What is left here was enabled by others, in repositories you cannot see')
  t.match(acme, 'and 3 private repositories you cannot see, enabled by others.')
  t.notMatch(acme, /<form method="post" action="\/migrate\/batches\/\d+\/install"/, 'no button')
  const batch = await service.tdb.db.selectFrom('app.batch').select('id').where('owner_login', '=', 'acme').where('user_id', '=', 3).executeTakeFirstOrThrow()
  const forced = await press(app, octo, `/migrate/batches/${batch.id}/install`)
  t.equal(forced.statusCode, 409)
  t.match(forced.body, 'one of its owners has to install the App')
  t.same(await service.tdb.db.selectFrom('app.install_state').selectAll().execute(), [], 'no link issued')
})
