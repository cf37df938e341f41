import { mkdir, readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import t from 'tap'
import { runCli } from '../../../src/cli/main.js'
import { importLegacyCsv } from '../../../src/legacy/import.js'
import { legacyCsvFromWorld } from '../../../src/legacy/world-seed.js'
import { captureIo } from '../../helpers/cli-io.js'
import { testDatabase, type TestDatabase } from '../../helpers/database.js'
import { demoWorld } from '../../helpers/simulator.js'
import { tempDir } from '../../helpers/temp-dir.js'

// An operator freezes "before" and writes the report, for everyone or one owner.

async function demoLegacy(t: Parameters<typeof testDatabase>[0]): Promise<TestDatabase> {
  const tdb = await testDatabase(t)
  await importLegacyCsv(tdb.pool, Readable.from([legacyCsvFromWorld(demoWorld())]), { fileName: 'demo', onProblem: () => {} })
  return tdb
}

async function run(tdb: TestDatabase, ...args: string[]) {
  const io = captureIo({ DATABASE_URL: tdb.url })
  const code = await runCli(args, io)
  return { code, out: io.stdout.text, err: io.stderr.text }
}

t.test('report:snapshot freezes every record once; report:before writes them all, or one owner’s, to a file or standard output', async (t) => {
  const tdb = await demoLegacy(t)
  const dir = await tempDir(t, 'report-before')
  const snapshot = await run(tdb, 'report:snapshot')
  t.equal(snapshot.code, 0)
  t.match(snapshot.out, /^snapshot of .*: 9 legacy hook records frozen now, 9 in all\n$/)
  t.match((await run(tdb, 'report:snapshot')).out, /: 0 legacy hook records frozen now, 9 in all\n$/)

  const all = await run(tdb, 'report:before')
  t.equal(all.code, 0)
  const lines = all.out.trimEnd().split('\n')
  t.equal(lines.length, 10, 'a header and 9 hooks')
  t.match(lines[0], /^owner,owner_id,owner_type,kind,repository,repo_id,hook_id,hook_url,enabled_by,/)
  t.match(lines[4], /^acme,100,Organization,repo,acme\/web,1101,5101,https:\/\/ci\.example\.com\/hooks\/github,hubot,2,2018-05-02T10:00:00\.000Z,\d{4}-.*Z,active,/)
  t.match(all.err, /^before-state report of .*: 9 hooks written\n$/)

  const file = path.join(dir, 'acme.ndjson')
  const acme = await run(tdb, 'report:before', '--owner', 'Acme', '--format', 'ndjson', '--out', file)
  t.equal(acme.code, 0)
  t.equal(acme.out, '')
  t.match(acme.err, /: 4 hooks written to .*acme\.ndjson\n$/)
  const objects = (await readFile(file, 'utf8')).trimEnd().split('\n').map((line) => JSON.parse(line) as { hook_id: number; owner: string })
  t.same(objects.map((o) => o.hook_id), [6000, 5100, 5102, 5101])
  t.same(await readdir(dir), ['acme.ndjson'], 'no partial file left beside it')

  const events = await tdb.db.selectFrom('app.audit_event').select(['action', 'actor_login', 'owner_id', 'detail']).where('action', 'in', ['before_snapshot', 'before_report']).orderBy('id').execute()
  t.same(events, [
    { action: 'before_snapshot', actor_login: 'oauth-to-app report:snapshot', owner_id: null, detail: { added: 9, frozen: 9 } },
    { action: 'before_snapshot', actor_login: 'oauth-to-app report:snapshot', owner_id: null, detail: { added: 0, frozen: 9 } },
    { action: 'before_report', actor_login: 'oauth-to-app report:before', owner_id: null, detail: { owner: null, format: 'csv', rows: 9 } },
    { action: 'before_report', actor_login: 'oauth-to-app report:before', owner_id: 100, detail: { owner: 'Acme', format: 'ndjson', rows: 4 } },
  ])
})

t.test('a wrong command line or an unknown owner is refused, naming the problem, and writes nothing', async (t) => {
  const tdb = await demoLegacy(t)
  const dir = await tempDir(t, 'report-before-args')
  t.match(await run(tdb, 'report:before', '--format', 'xlsx'), { code: 2, err: /--format must be csv or ndjson, not "xlsx"/ })
  t.match(await run(tdb, 'report:before', '--owner', ' '), { code: 2, err: /--owner needs a login or an id/ })
  const out = path.join(dir, 'nobody.csv')
  t.match(await run(tdb, 'report:before', '--owner', 'nobody', '--out', out), { code: 1, out: '', err: /no legacy hook or migration is recorded for owner "nobody"; nothing written/ })
  t.same(await readdir(dir), [])
  t.match(await run(tdb, 'report:before', '--out', path.join(dir, 'missing-dir', 'x.csv')), { code: 2, err: /cannot write .*missing-dir\/x\.csv: no such directory\n/ })
  t.same(await readdir(dir), [], 'nothing half-written')
  const taken = path.join(dir, 'a-directory')
  await mkdir(taken)
  t.match(await run(tdb, 'report:before', '--out', taken), { code: 1, err: /EISDIR/ })
  t.same(await readdir(dir), ['a-directory'], 'the partial file is removed when it cannot take its name')
  t.match(await run(tdb, 'report:snapshot', 'extra'), { code: 2, err: /unexpected argument "extra"/ })
  const noDb = captureIo({})
  t.equal(await runCli(['report:before'], noDb), 2)
  t.match(noDb.stderr.text, /DATABASE_URL is required/)
  t.equal(await runCli(['report:snapshot'], captureIo({})), 2)
})
