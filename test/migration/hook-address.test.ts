import t from 'tap'
import { movedAway, repositoryOfHook } from '../../src/migration/hook-address.js'

t.test("where a hook's repository is now, from GitHub's answer", async (t) => {
  t.equal(repositoryOfHook({ id: 1, url: 'https://api.github.com/repos/octocat/Hello-World/hooks/1' }), 'octocat/Hello-World')
  t.equal(repositoryOfHook({ url: 'https://ghe.example.com/api/v3/repos/acme/my%20repo/hooks/12' }), 'acme/my repo', 'GitHub Enterprise Server, an escaped name')
  t.equal(repositoryOfHook({ url: 'https://api.github.com/orgs/acme/hooks/1' }), undefined, "an organization's hook")
  t.equal(repositoryOfHook({ id: 1 }), undefined, 'no address: nothing said')
})

t.test('moved away: to another account, not a rename within it', async (t) => {
  t.equal(movedAway('mona', 'acme/site'), true)
  t.equal(movedAway('Mona', 'mona/site-renamed'), false, 'logins are case-insensitive')
  t.equal(movedAway('mona', undefined), false, 'GitHub did not say: nothing to go by')
})
