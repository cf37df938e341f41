import t from 'tap'
import type { Test } from 'tap'
import type { Env } from '../../../src/config.js'
import { runCli } from '../../../src/cli/main.js'
import type { World } from '../../../src/simulator/world.js'
import { Capture, captureIo } from '../../helpers/cli-io.js'
import { serviceWithGitHub, type Service } from '../../helpers/service.js'
import { demoWorld, installedOnMonaAndAcme } from '../../helpers/simulator.js'
import { TEST_SESSION_SECRET } from '../../helpers/server.js'

// `oauth-to-app cleanup`: the operator's sweep of old webhooks on repositories an installation
// already covers, for users who never opened the wizard.

const world = (): World => installedOnMonaAndAcme([1000, 1001])

function envOf(service: Service): Env {
  const { sim, tdb } = service
  const app = sim.state.app
  return {
    DATABASE_URL: tdb.url,
    PUBLIC_URL: 'http://localhost:3000',
    SESSION_SECRET: TEST_SESSION_SECRET,
    GITHUB_WEB_URL: sim.url,
    GITHUB_API_URL: sim.apiUrl,
    GITHUB_APP_ID: String(app.id),
    GITHUB_APP_SLUG: app.slug,
    GITHUB_APP_CLIENT_ID: app.client_id,
    GITHUB_APP_CLIENT_SECRET: app.client_secret,
    GITHUB_APP_PRIVATE_KEY: sim.privateKey,
    GITHUB_WEBHOOK_SECRET: app.webhook_secret,
    GITHUB_WRITE_SPACING_MS: '1',
    LEGACY_HOOK_URL: 'https://ci.example.com/hooks/github',
  }
}

async function sweep(t: Test, service: Service, argv: string[]) {
  const io = captureIo(envOf(service))
  const code = await runCli(['cleanup', ...argv], io)
  return { code, out: io.stdout.text, err: io.stderr.text }
}

const hooksOn = (service: Service, id: number) => [...(service.sim.state.repos.get(id) ?? service.sim.state.orgs.get(id))!.hooks.keys()].sort()

t.test('a dry run lists the plan and changes nothing; then one owner, then all, each hook once', async (t) => {
  const service = await serviceWithGitHub(t, world())
  const { db } = service.tdb
  const dry = await sweep(t, service, ['--all', '--dry-run'])
  t.equal(dry.code, 0, dry.err)
  t.match(dry.out, 'mona (installation 500, selected repositories): 2 old webhooks to remove')
  t.match(dry.out, '  hook 5000 on mona/dotfiles\n  hook 5001 on mona/site\n')
  t.match(dry.out, 'acme (installation 501, all repositories): 4 old webhooks to remove')
  t.match(dry.out, '  hook 6000 on the organization acme')
  t.match(dry.out, 'dry run: 6 old webhooks would be removed; nothing was changed')
  t.equal((await db.selectFrom('app.cleanup_task').select('hook_id').execute()).length, 0)
  t.same(hooksOn(service, 1000), [5000])
  const sweeps = () => db.selectFrom('app.audit_event').select(['outcome', 'detail']).where('action', '=', 'cleanup_sweep').orderBy('id').execute()
  t.match(await sweeps(), [{ outcome: 'dry_run', detail: { scope: 'all', installations: 2, hooks: 6 } }])
  t.equal((await db.selectFrom('app.audit_event').select('id').execute()).length, 1, 'its own event only')

  const acme = await sweep(t, service, ['--owner', 'acme'])
  t.equal(acme.code, 0, acme.err)
  t.match(acme.out, 'removed 4, already gone 0, kept: foreign 0, not covered 0; needs a person 0; still open 0')
  t.same(hooksOn(service, 100), [])
  t.same(hooksOn(service, 1000), [5000], "mona's are not in this sweep")

  const all = await sweep(t, service, ['--all'])
  t.match(all.out, 'acme (installation 501, all repositories): 0 old webhooks to remove', 'done already: nothing planned again')
  t.match(all.out, 'removed 2,')
  t.same(hooksOn(service, 1000), [])
  t.same(hooksOn(service, 1001), [5002], 'the foreign hook stays')
  t.same(hooksOn(service, 1002), [5003], 'not covered: kept, and not even planned')
  const planned = await db.selectFrom('app.audit_event').select(['actor_login', 'detail']).where('action', '=', 'hook_removal_planned').execute()
  t.equal(planned.length, 6)
  t.match(planned[0], { actor_login: 'oauth-to-app cleanup', detail: { agreedBy: null } })
  t.equal((await sweeps()).length, 3)
})

t.test('what needs a person is listed with why; GitHub silent: what is left is said, exit 1', async (t) => {
  const w = world()
  w.app.permissions = { metadata: 'read', contents: 'read' }
  const service = await serviceWithGitHub(t, w)
  const acme = await sweep(t, service, ['--owner', 'acme'])
  t.match(acme.out, 'needs a person 1')
  t.match(acme.out, /  hook 5101: The vendor holds no working legacy token of hubot and the App lacks the Webhooks permission/)
  await service.sim.sim.app.inject({ method: 'PUT', url: '/_sim/faults', payload: { errors: [{ pattern: 'GET /repositories/{repository_id}/hooks/{hook_id}', status: 503, rate: 1 }] } })
  const silent = await sweep(t, service, ['--owner', 'mona'])
  t.equal(silent.code, 1)
  t.match(silent.out, 'still open 2')
  t.match(silent.out, 'GitHub did not answer for the hooks still open: run the sweep again later.')
})

t.test('a terminal gets one progress line redrawn; no installation, or a wrong command line, is said', async (t) => {
  const service = await serviceWithGitHub(t, world())
  const io = { ...captureIo(envOf(service)), stdout: new Capture(true) }
  t.equal(await runCli(['cleanup', '--all'], io), 0)
  t.match(io.stdout.text, '\r[##########                    ] 2/6 hooks\r[##############################] 6/6 hooks\nremoved 6,')
  const one = await sweep(t, service, ['--owner', 'mona', '--dry-run'])
  t.match(one.out, '0 old webhooks to remove')
  const bare = demoWorld()
  bare.installations = [{ id: 500, account: 'mona', repository_selection: 'selected', repositories: [1000] }]
  const fresh = await serviceWithGitHub(t, bare)
  t.match((await sweep(t, fresh, ['--all', '--dry-run'])).out, 'mona (installation 500, selected repositories): 1 old webhook to remove')
  await fresh.sim.sim.app.inject({ method: 'DELETE', url: '/_sim/installations/500' })
  t.match((await sweep(t, fresh, ['--all'])).out, 'no installation of the App at all: nothing to do')
  const none = await sweep(t, service, ['--owner', 'widgets'])
  t.equal(none.code, 0)
  t.match(none.out, 'no installation of the App on widgets: nothing to do')
  for (const argv of [[], ['--all', '--owner', 'acme']]) {
    const wrong = await sweep(t, service, argv)
    t.equal(wrong.code, 2)
    t.match(wrong.err, 'give either --owner LOGIN or --all')
  }
})
