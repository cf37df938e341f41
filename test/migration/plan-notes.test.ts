import t from 'tap'
import { PlanNotes } from '../../src/migration/plan-notes.js'

// Notes per owner and kind: repositories counted (never named), GitHub's single sign-on link
// kept from whichever answer carried one.

t.test('one note per owner and kind, repositories counted, the SSO link kept', async (t) => {
  const notes = new PlanNotes()
  const corp = { id: 300, login: 'corp' }
  notes.add({ kind: 'sso', url: undefined }, corp)
  notes.add({ kind: 'sso', url: 'https://github.example/orgs/corp/sso?authorization_request=1' }, corp)
  notes.add({ kind: 'sso', url: 'https://github.example/orgs/corp/sso?authorization_request=2' }, corp)
  notes.add({ kind: 'scope', needs: ['read:org'] }, null, 'the list of your organizations', 'Instead, this.')
  notes.add({ kind: 'unavailable', status: 502 }, corp)
  notes.add({ kind: 'unavailable', status: 503 }, corp)
  notes.add({ kind: 'forbidden', message: 'No' }, { id: 301, login: 'newco' })
  t.same(notes.list(), [
    {
      ownerId: 300,
      ownerLogin: 'corp',
      fault: 'sso',
      message: "GitHub hides 3 repositories of corp from the old app's authorization: the organization uses SAML single sign-on, and the authorization is not approved for it (approve it on GitHub at the link, then look again).",
      url: 'https://github.example/orgs/corp/sso?authorization_request=1',
    },
    { ownerId: null, ownerLogin: null, fault: 'scope', message: "The old app's authorization lacks the read:org scope GitHub requires for the list of your organizations, and it cannot be widened. Instead, this.", scopes: ['read:org'] },
    { ownerId: 300, ownerLogin: 'corp', fault: 'unavailable', message: 'GitHub did not answer for 2 repositories of corp (HTTP 502): look again in a moment.' },
    { ownerId: 301, ownerLogin: 'newco', fault: 'forbidden', message: "GitHub refused the old app's authorization for 1 repository of newco: No." },
  ])
})
