import t from 'tap'
import {
  assertConforms,
  conformanceErrors,
  fixtureSource,
  operationFor,
  operations,
  undocumentedProperties,
  webhookErrors,
} from '../helpers/github-openapi.js'

// The validator the conformance suite relies on: it must pass GitHub's own examples and name
// the JSON path of what is wrong, or the suite proves nothing.

// GitHub's documented examples (components/examples in @octokit/openapi 23.0.2).
const hook = {
  type: 'Repository',
  id: 12345678,
  name: 'web',
  active: true,
  events: ['push', 'pull_request'],
  config: { content_type: 'json', insecure_ssl: '0', url: 'https://example.com/webhook' },
  updated_at: '2019-06-03T00:57:16Z',
  created_at: '2019-06-03T00:57:16Z',
  url: 'https://api.github.com/repos/octocat/Hello-World/hooks/12345678',
  test_url: 'https://api.github.com/repos/octocat/Hello-World/hooks/12345678/test',
  ping_url: 'https://api.github.com/repos/octocat/Hello-World/hooks/12345678/pings',
  deliveries_url: 'https://api.github.com/repos/octocat/Hello-World/hooks/12345678/deliveries',
  last_response: { code: null, status: 'unused', message: null },
}

const publicUser = {
  login: 'octocat',
  id: 1,
  node_id: 'MDQ6VXNlcjE=',
  avatar_url: 'https://github.com/images/error/octocat_happy.gif',
  gravatar_id: '',
  url: 'https://api.github.com/users/octocat',
  html_url: 'https://github.com/octocat',
  followers_url: 'https://api.github.com/users/octocat/followers',
  following_url: 'https://api.github.com/users/octocat/following{/other_user}',
  gists_url: 'https://api.github.com/users/octocat/gists{/gist_id}',
  starred_url: 'https://api.github.com/users/octocat/starred{/owner}{/repo}',
  subscriptions_url: 'https://api.github.com/users/octocat/subscriptions',
  organizations_url: 'https://api.github.com/users/octocat/orgs',
  repos_url: 'https://api.github.com/users/octocat/repos',
  events_url: 'https://api.github.com/users/octocat/events{/privacy}',
  received_events_url: 'https://api.github.com/users/octocat/received_events',
  type: 'User',
  site_admin: false,
  name: 'monalisa octocat',
  company: 'GitHub',
  blog: 'https://github.com/blog',
  location: 'San Francisco',
  email: 'octocat@github.com',
  hireable: false,
  bio: 'There once was...',
  twitter_username: 'monatheoctocat',
  public_repos: 2,
  public_gists: 1,
  followers: 20,
  following: 0,
  created_at: '2008-01-14T04:33:35Z',
  updated_at: '2008-01-14T04:33:35Z',
}
const privateUser = {
  ...publicUser,
  private_gists: 81,
  total_private_repos: 100,
  owned_private_repos: 100,
  disk_usage: 10000,
  collaborators: 8,
  two_factor_authentication: true,
  plan: { name: 'Medium', space: 400, private_repos: 20, collaborators: 0 },
}

t.test('the fixture records where it comes from', async (t) => {
  const source = fixtureSource()
  t.equal(source.package, '@octokit/openapi')
  t.match(source.version, /^\d+\.\d+\.\d+$/)
  t.equal(source.file, 'generated/api.github.com.json')
  t.match(source.extracted, /^\d{4}-\d{2}-\d{2}$/)
  t.equal(operations().length, 26)
})

t.test('every schema of the fixture compiles under ajv strict mode', async (t) => {
  for (const operation of operations()) {
    const [method, template] = operation.split(' ') as [string, string]
    for (const status of [200, 201, 204, 404]) t.doesNotThrow(() => conformanceErrors(method, template, status, {}), `${operation} ${status}`)
  }
  for (const [event, action] of [['installation', 'created'], ['installation', 'deleted'], ['installation', 'suspend'], ['installation', 'unsuspend'], ['installation_repositories', 'added'], ['installation_repositories', 'removed']] as const) {
    t.doesNotThrow(() => webhookErrors(event, action, {}), `${event}.${action}`)
  }
})

t.test('documented examples conform', async (t) => {
  assertConforms(t, 'GET', '/repos/{owner}/{repo}/hooks/{hook_id}', 200, hook)
  assertConforms(t, 'GET', '/repos/{owner}/{repo}/hooks', 200, [hook, hook])
  // Without user_view_type the two overlapping user schemas both match; either will do.
  assertConforms(t, 'GET', '/user', 200, privateUser)
  assertConforms(t, 'GET', '/user', 200, publicUser)
  assertConforms(t, 'GET', '/user', 200, { ...publicUser, user_view_type: 'public' })
  assertConforms(t, 'DELETE', '/repos/{owner}/{repo}/hooks/{hook_id}', 204, undefined)
  assertConforms(t, 'GET', '/repos/{owner}/{repo}', 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' })
})

t.test('errors name the JSON path of the bad value', async (t) => {
  const { config: _config, ...noConfig } = hook
  t.strictSame(conformanceErrors('GET', '/repos/{owner}/{repo}/hooks/{hook_id}', 200, noConfig), ['/config: required, missing'])
  t.strictSame(conformanceErrors('GET', '/repos/{owner}/{repo}/hooks', 200, [hook, { ...hook, id: '5' }]), ['/1/id: must be integer (#/properties/id/type)'])
  t.match(conformanceErrors('GET', '/repos/{owner}/{repo}/hooks/{hook_id}', 200, { ...hook, created_at: '3 June 2019' }), [/^\/created_at: must match format "date-time"/])
  t.match(conformanceErrors('GET', '/repos/{owner}/{repo}/hooks/{hook_id}', 200, { ...hook, url: '/repos/o/r/hooks/1' }), [/^\/url: must match format "uri"/])
  // nullable: null is fine where the description says so, and only there.
  t.match(conformanceErrors('GET', '/repos/{owner}/{repo}/hooks/{hook_id}', 200, { ...hook, last_response: { code: 'x', status: null, message: null } }), [/^\/last_response\/code: must be integer,null/])
  t.match(conformanceErrors('GET', '/repos/{owner}/{repo}/hooks/{hook_id}', 200, { ...hook, name: null }), [/^\/name: must be string/])
  // The discriminator picks the schema: a "private" view must carry the private fields.
  t.ok(conformanceErrors('GET', '/user', 200, { ...publicUser, user_view_type: 'private' }).includes('/disk_usage: required, missing'))
  t.ok(conformanceErrors('GET', '/user', 200, { ...publicUser, id: undefined }).includes('/id: required, missing'))
})

t.test('statuses', async (t) => {
  t.match(conformanceErrors('POST', '/app/installations/{installation_id}/access_tokens', 200, {}), [/^status 200 is not documented for POST .* \(documented: 201, /])
  // An undocumented error status is held to basic-error, which every GitHub error is.
  t.strictSame(conformanceErrors('GET', '/app', 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' }), [])
  t.match(conformanceErrors('GET', '/app', 401, { message: 401 }), [/^\(status 401, basic-error\) \/message: must be string/])
  t.match(conformanceErrors('DELETE', '/orgs/{org}/hooks/{hook_id}', 204, { deleted: true }), [/has no body in the description/])
})

t.test('an operation or webhook outside the fixture throws', async (t) => {
  t.throws(() => conformanceErrors('GET', '/repos/{owner}/{repo}/hook', 200, {}), /GET \/repos\/\{owner\}\/\{repo\}\/hook is not in/)
  t.throws(() => conformanceErrors('POST', '/user', 200, {}), /POST \/user is not in/)
  t.throws(() => webhookErrors('installation', 'renamed', {}), /webhook installation.renamed is not in/)
})

t.test('webhooks', async (t) => {
  const errors = webhookErrors('installation', 'created', { action: 'created' })
  t.ok(errors.includes('/installation: required, missing'), errors.join('\n'))
  t.ok(errors.includes('/sender: required, missing'))
  t.ok(webhookErrors('installation_repositories', 'added', { action: 'removed' }).includes('/action: must be equal to one of the allowed values: ["added"]'))
})

t.test('concrete paths map to the operation that serves them', async (t) => {
  t.equal(operationFor('GET', '/repos/mona/site/hooks'), 'GET /repos/{owner}/{repo}/hooks')
  t.equal(operationFor('GET', '/repos/mona/site/hooks/5001'), 'GET /repos/{owner}/{repo}/hooks/{hook_id}')
  t.equal(operationFor('delete', '/repos/mona/site/hooks/5001'), 'DELETE /repos/{owner}/{repo}/hooks/{hook_id}')
  t.equal(operationFor('GET', '/repos/mona/site/installation'), 'GET /repos/{owner}/{repo}/installation')
  t.equal(operationFor('GET', '/repos/mona/site'), 'GET /repos/{owner}/{repo}')
  t.equal(operationFor('GET', '/user/installations?per_page=100'), 'GET /user/installations')
  t.equal(operationFor('GET', '/user/installations/7/repositories'), 'GET /user/installations/{installation_id}/repositories')
  t.equal(operationFor('PUT', '/user/installations/7/repositories/1000'), 'PUT /user/installations/{installation_id}/repositories/{repository_id}')
  t.equal(operationFor('GET', '/repositories/1000'), 'GET /repositories/{repository_id}')
  t.equal(operationFor('GET', '/users/mona/installation'), 'GET /users/{username}/installation')
  t.equal(operationFor('GET', '/orgs/acme/hooks'), 'GET /orgs/{org}/hooks')
  t.equal(operationFor('GET', '/repos/mona/site/pulls'), undefined)
  t.equal(operationFor('POST', '/repos/mona/site/hooks'), undefined)
})

t.test('properties the description does not mention are listed', async (t) => {
  t.strictSame(undocumentedProperties('GET', '/repos/{owner}/{repo}/hooks/{hook_id}', 200, hook), [])
  t.strictSame(undocumentedProperties('GET', '/user', 200, privateUser), [])
  t.strictSame(
    undocumentedProperties('GET', '/repos/{owner}/{repo}/hooks', 200, [{ ...hook, secret: 'x', config: { ...hook.config, urll: 'y' } }]),
    ['/0/config/urll', '/0/secret'],
  )
  // GitHub App permissions are open-ended: any key is documented.
  t.strictSame(undocumentedProperties('GET', '/app', 200, { id: 1, permissions: { anything: 'read' } }), [])
  t.strictSame(undocumentedProperties('GET', '/app', 404, { message: 'Not Found', extra: 1 }), ['/extra'])
})
