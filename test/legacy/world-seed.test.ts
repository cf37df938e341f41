import t from 'tap'
import { LEGACY_CSV_COLUMNS } from '../../src/legacy/csv-records.js'
import { legacyCsvFromWorld } from '../../src/legacy/world-seed.js'

t.test('a world becomes the CSV a vendor would export', async (t) => {
  const csv = legacyCsvFromWorld({
    users: [
      { id: 1, login: 'mona', legacy_token: 'gho_m', legacy_scopes: ['repo', 'admin:repo_hook'] },
      { id: 2, login: 'hubot', legacy_token: null },
    ],
    legacy_registrations: [
      { github_user_id: 1, kind: 'repo', owner_id: 1, owner_login: 'mona', owner_type: 'User', repo_id: 10, repo_name: 'a "quoted", name', hook_id: 5, hook_url: 'https://x.example/h', created_at: '2017-03-01T10:00:00Z' },
      { github_user_id: 2, kind: 'org', owner_id: 100, owner_login: 'acme', owner_type: 'Organization', repo_id: null, hook_id: 6, hook_url: 'https://x.example/h' },
      { github_user_id: 9, kind: 'org', owner_id: 100, owner_login: 'acme', owner_type: 'Organization', hook_id: 7, hook_url: 'https://x.example/h' },
    ],
  })
  t.equal(
    csv,
    [
      LEGACY_CSV_COLUMNS.join(','),
      '1,mona,gho_m,"repo,admin:repo_hook",repo,1,mona,User,10,"a ""quoted"", name",5,https://x.example/h,2017-03-01T10:00:00Z',
      '2,hubot,,,org,100,acme,Organization,,,6,https://x.example/h,',
      '9,user-9,,,org,100,acme,Organization,,,7,https://x.example/h,',
      '',
    ].join('\n'),
  )
  t.equal(legacyCsvFromWorld({ users: [] }), `${LEGACY_CSV_COLUMNS.join(',')}\n`, 'a world with no registrations')
})
