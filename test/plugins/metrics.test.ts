import t from 'tap'
import { testDatabase } from '../helpers/database.js'
import { testServer } from '../helpers/server.js'

// GET /metrics: Prometheus' text format, the migration's counts and the HTTP requests.

t.test("the migration's counts and each route's requests, in Prometheus' text format", async (t) => {
  const tdb = await testDatabase(t)
  await tdb.db
    .insertInto('legacy.webhooks')
    .values({ github_user_id: 1, kind: 'repo', owner_id: 100, owner_login: 'acme', owner_type: 'Organization', repo_id: 1000, repo_name: 'web', hook_id: 5000, hook_url: 'https://ci.example.com/hooks/github', created_at: '2020-01-01T00:00:00Z' })
    .execute()
  const app = await testServer(t, tdb)
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
  t.equal((await app.inject({ url: '/no/such/page/4711' })).statusCode, 404)
  const res = await app.inject({ url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  t.match(res.body, /^oauth_to_app_users\{stage="started"\} 0$/m)
  t.match(res.body, /^oauth_to_app_users\{stage="finished"\} 0$/m)
  t.match(res.body, /^oauth_to_app_owners\{stage="installed"\} 0$/m)
  t.match(res.body, /^oauth_to_app_legacy_hooks\{state="total"\} 1$/m)
  t.match(res.body, /^oauth_to_app_legacy_hooks\{state="removed"\} 0$/m)
  t.match(res.body, /^oauth_to_app_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1$/m)
  t.match(res.body, /^oauth_to_app_http_requests_total\{method="GET",route="unmatched",status="404"\} 1$/m, 'an address with no page is one series, whatever it was')
  t.notMatch(res.body, /4711/)
  t.match(res.body, /^oauth_to_app_http_request_duration_seconds_count\{method="GET",route="\/healthz"\} 1$/m)
  t.match(res.body, /^oauth_to_app_process_resident_memory_bytes \d+/m)
})
