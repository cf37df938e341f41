import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { projectRoot } from '../../src/project-root.js'
import { worldSchema } from '../../src/simulator/world-schema.js'
import { loadWorld, validateWorld, WorldError, type World } from '../../src/simulator/world.js'
import { rsaKeyPair } from '../helpers/keys.js'
import { demoWorld } from '../helpers/simulator.js'

const shared = path.join(projectRoot(), '..', 'shared', 'contracts')
const demoFile = path.join(projectRoot(), 'src', 'simulator', 'worlds', 'demo.json')

function problem(data: unknown): string {
  try {
    validateWorld(data)
  } catch (error) {
    if (error instanceof WorldError) return error.message
    throw error
  }
  return 'valid'
}

/** The demo world with one change made by `edit`. */
function changed(edit: (w: World) => void): World {
  const w = demoWorld()
  edit(w)
  return w
}

t.test("the project's schema is shared/contracts/world.schema.json", { skip: existsSync(shared) ? false : 'no ../shared here' }, async (t) => {
  t.same(worldSchema, JSON.parse(await readFile(path.join(shared, 'world.schema.json'), 'utf8')))
})

t.test('the demo world covers every case of world.example.json', { skip: existsSync(shared) ? false : 'no ../shared here' }, async (t) => {
  const example = validateWorld(JSON.parse(await readFile(path.join(shared, 'world.example.json'), 'utf8')), 'world.example.json')
  const demo = demoWorld()
  t.same(demo.app, example.app)
  // The demo's legacy app also has its client secret, so that its users can disconnect it.
  t.match(demo.legacy_oauth_app, example.legacy_oauth_app)
  for (const part of ['users', 'orgs', 'repos', 'installations', 'legacy_registrations'] as const) {
    for (const item of example[part] ?? []) {
      t.same((demo[part] as { id?: number }[]).find((d) => d.id === item.id), item, `${part} ${item.id}`)
    }
  }
})

t.test('a minimal world is valid; errors name the first invalid place', async (t) => {
  const minimal = { app: { id: 1, slug: 's', client_id: 'c', client_secret: 'x', webhook_secret: 'w', permissions: {} }, legacy_oauth_app: { client_id: 'l' }, users: [], repos: [] }
  t.equal(problem(minimal), 'valid')
  t.equal(problem(demoWorld()), 'valid')
  t.equal(problem([]), 'world: /: must be object')
  t.equal(problem({ ...minimal, app: undefined }), "world: /: must have required property 'app'")
  t.equal(problem({ ...minimal, extra: 1 }), 'world: /: must NOT have additional properties (extra)')
  t.equal(problem(changed((w) => ((w.users[1] as { id: unknown }).id = '2'))), 'world: /users/1/id: must be integer')
  t.equal(problem(changed((w) => ((w.app.permissions as Record<string, string>)['contents'] = 'owner'))), 'world: /app/permissions/contents: must be equal to one of the allowed values')
  t.equal(problem(changed((w) => ((w.repos[1]!.hooks![0] as { secret?: string }).secret = 'x'))), 'world: /repos/1/hooks/0: must NOT have additional properties (secret)')
  t.equal(problem(changed((w) => (w.repos[0]!.id = 0))), 'world: /repos/0/id: must be >= 1')
  t.throws(() => validateWorld({}, 'my.json'), { name: 'WorldError', message: /^my\.json: \/: / })
})

t.test('references: unique ids and logins, known owners, members and repositories', async (t) => {
  const cases: [(w: World) => void, string][] = [
    [(w) => (w.users[1]!.login = 'MONA'), '/users/1/login: "MONA" is already the login of /users/0'],
    [(w) => (w.orgs![0]!.id = 3), '/orgs/0/id: 3 is already the id of /users/2'],
    [(w) => (w.orgs![0]!.login = 'octo'), '/orgs/0/login: "octo" is already the login of /users/2'],
    [(w) => (w.orgs![0]!.hooks![0]!.id = 5200), '/repos/6/hooks/0/id: 5200 is already the id of /orgs/0/hooks/0'],
    [(w) => (w.repos[1]!.hooks![1]!.id = 5001), '/repos/1/hooks/1/id: 5001 is already the id of /repos/1/hooks/0'],
    [(w) => (w.orgs![1]!.members['ghost'] = 'member'), '/orgs/1/members/ghost: no user has this login'],
    [(w) => (w.repos[2]!.owner = 'nobody'), '/repos/2/owner: no user or org has the login "nobody"'],
    [(w) => (w.repos[2]!.id = 1000), '/repos/2/id: 1000 is already the id of /repos/0'],
    [(w) => (w.repos[2]!.name = 'DOTFILES'), '/repos/2/name: mona/DOTFILES appears twice'],
    [(w) => (w.repos[5]!.collaborators = { ghost: 'read' }), '/repos/5/collaborators/ghost: no user has this login'],
    [(w) => (w.installations = [{ id: 1, account: 'ghost', repository_selection: 'all' }]), '/installations/0/account: no user or org has the login "ghost"'],
    [(w) => (w.installations = [{ id: 1, account: 'mona', repository_selection: 'all' }, { id: 1, account: 'acme', repository_selection: 'all' }]), '/installations/1/id: 1 is the id of an earlier installation'],
    [(w) => (w.installations = [{ id: 1, account: 'mona', repository_selection: 'all' }, { id: 2, account: 'Mona', repository_selection: 'all' }]), '/installations/1/account: the app is already installed on Mona'],
    [(w) => (w.installations = [{ id: 1, account: 'mona', repository_selection: 'selected', repositories: [1000, 4242] }]), '/installations/0/repositories/1: no repo has the id 4242'],
    [(w) => (w.installations = [{ id: 1, account: 'mona', repository_selection: 'selected', repositories: [1100] }]), '/installations/0/repositories/0: repo 1100 belongs to acme, not mona'],
  ]
  for (const [edit, message] of cases) t.equal(problem(changed(edit)), `world: ${message}`)
  t.equal(problem(changed((w) => (w.installations = [{ id: 1, account: 'mona', repository_selection: 'selected', repositories: [1000] }, { id: 2, account: 'acme', repository_selection: 'all' }]))), 'valid')
})

t.test('loadWorld: files that cannot be read, bad JSON, invalid worlds and key files', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'world-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const loaded = await loadWorld(demoFile)
  t.same(loaded.world, demoWorld())
  t.equal(loaded.privateKey, undefined)
  const missing = path.join(dir, 'missing.json')
  await t.rejects(loadWorld(missing), { name: 'WorldError', message: `${missing}: cannot be read (ENOENT)` })
  await t.rejects(loadWorld(dir), { message: `${dir}: cannot be read (EISDIR)` })
  const bad = path.join(dir, 'bad.json')
  await writeFile(bad, '{"app": ')
  await t.rejects(loadWorld(bad), { message: new RegExp(`^${bad}: not valid JSON: `) })
  const invalid = path.join(dir, 'invalid.json')
  await writeFile(invalid, JSON.stringify({ ...demoWorld(), users: 'nobody' }))
  await t.rejects(loadWorld(invalid), { message: `${invalid}: /users: must be array` })

  await mkdir(path.join(dir, 'keys'))
  const key = rsaKeyPair().privateKey
  await writeFile(path.join(dir, 'keys', 'app.pem'), key)
  const keyed = path.join(dir, 'keyed.json')
  await writeFile(keyed, JSON.stringify(changed((w) => (w.app.private_key_file = 'keys/app.pem'))))
  t.equal((await loadWorld(keyed)).privateKey, key, 'the key file is relative to the world file')
  const lost = path.join(dir, 'lost.json')
  await writeFile(lost, JSON.stringify(changed((w) => (w.app.private_key_file = 'keys/none.pem'))))
  await t.rejects(loadWorld(lost), { message: `${lost}: /app/private_key_file: ${path.join(dir, 'keys', 'none.pem')} cannot be read (ENOENT)` })
})
