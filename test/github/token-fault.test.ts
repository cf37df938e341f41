import t from 'tap'
import { explainFault, githubStatus, narrowest, scopeList, ssoPartialOrgs, ssoUrl, tokenFault } from '../../src/github/token-fault.js'

// What a refusal of GitHub's says about a legacy token, read from the status and headers of
// octokit's RequestError (shaped here as octokit builds it).

function refusal(status: number, message: string, headers: Record<string, string> = {}) {
  return Object.assign(new Error(`${message} - https://docs.github.com/rest`), { status, response: { headers, data: { message } } })
}

t.test('each kind of refusal', async (t) => {
  t.same(tokenFault(refusal(401, 'Bad credentials')), { kind: 'revoked' })
  const sso = refusal(403, 'Resource protected by organization SAML enforcement.', { 'x-github-sso': 'required; url=https://github.com/orgs/corp/sso?authorization_request=abc' })
  t.same(tokenFault(sso), { kind: 'sso', url: 'https://github.com/orgs/corp/sso?authorization_request=abc' })
  const scope = refusal(403, 'You need at least read:org scope', { 'x-accepted-oauth-scopes': 'read:org, user', 'x-oauth-scopes': 'repo, admin:repo_hook' })
  t.same(tokenFault(scope), { kind: 'scope', needs: ['read:org', 'user'] })
  t.same(tokenFault(refusal(404, 'Not Found', { 'x-accepted-oauth-scopes': 'repo', 'x-oauth-scopes': '' })), { kind: 'scope', needs: ['repo'] }, 'a token with no scope at all')
  t.same(tokenFault(refusal(404, 'Not Found', { 'x-accepted-oauth-scopes': 'repo', 'x-oauth-scopes': 'repo' })), { kind: 'not_found' }, 'held the scope: really not found')
  t.same(tokenFault(refusal(404, 'Not Found')), { kind: 'not_found' }, 'no scope headers (an App token)')
  t.same(tokenFault(refusal(403, 'Must have admin rights to Repository.')), { kind: 'forbidden', message: 'Must have admin rights to Repository.' })
  t.same(tokenFault(refusal(403, 'API rate limit exceeded for user ID 1.')), { kind: 'unavailable', status: 403 }, 'a rate limit is "later", not "no"')
  t.same(tokenFault(refusal(502, 'Bad Gateway')), { kind: 'unavailable', status: 502 })
  t.same(tokenFault(new Error('socket hang up')), { kind: 'unavailable', status: undefined })
})

t.test('the headers, read defensively', async (t) => {
  t.same(scopeList(' repo,admin:repo_hook ,, '), ['repo', 'admin:repo_hook'])
  t.same(scopeList(undefined), [])
  t.equal(ssoUrl('required; url=javascript:alert(1)'), undefined, 'a link on a page is a web address or nothing')
  t.equal(ssoUrl('required'), undefined)
  t.equal(ssoUrl(undefined), undefined)
  t.same(ssoPartialOrgs('partial-results; organizations=21955855,20582480'), [21955855, 20582480])
  t.same(ssoPartialOrgs(undefined), [])
  t.same(ssoPartialOrgs('required; url=https://x'), [])
})

t.test('every fault explained, with what is done instead', async (t) => {
  t.equal(explainFault({ kind: 'revoked' }, 'adding repositories'), "GitHub no longer accepts the old app's authorization for adding repositories.")
  t.match(explainFault({ kind: 'sso', url: 'https://x' }, 'acme/api'), 'approve it on GitHub at the link')
  t.notMatch(explainFault({ kind: 'sso', url: undefined }, 'acme/api'), 'at the link')
  t.equal(explainFault({ kind: 'scope', needs: ['read:org', 'user'] }, 'your organizations', 'Done otherwise.'), "The old app's authorization lacks the read:org or user scope GitHub requires for your organizations, and it cannot be widened. Done otherwise.")
  t.equal(explainFault({ kind: 'forbidden', message: 'No' }, 'this'), "GitHub refused the old app's authorization for this: No.")
  t.equal(explainFault({ kind: 'not_found' }, 'acme/api'), "GitHub does not show acme/api to the old app's authorization.")
  t.equal(explainFault({ kind: 'unavailable', status: 502 }, 'acme'), 'GitHub did not answer for acme (HTTP 502): look again in a moment.')
  t.equal(explainFault({ kind: 'unavailable', status: undefined }, 'acme'), 'GitHub did not answer for acme: look again in a moment.')
})

t.test("GitHub's status, or the error itself when it is not GitHub's answer", async (t) => {
  t.equal(githubStatus(refusal(502, 'Bad Gateway')), 502)
  const defect = new TypeError('x is undefined')
  t.throws(() => githubStatus(defect), defect, 'a defect does not pass for an outage')
})

t.test('the scope a person would ask for: the narrowest GitHub takes', async (t) => {
  t.same(narrowest(['admin:org', 'read:org', 'user', 'write:org']), ['read:org', 'user'])
  t.same(narrowest(['admin:repo_hook', 'read:repo_hook', 'repo', 'write:repo_hook']), ['read:repo_hook', 'repo'])
  t.same(narrowest(['admin:org_hook']), ['admin:org_hook'])
  t.equal(explainFault({ kind: 'scope', needs: ['admin:org', 'read:org', 'write:org'] }, 'your role in acme'), "The old app's authorization lacks the read:org scope GitHub requires for your role in acme, and it cannot be widened.")
})
