import type { Kysely } from 'kysely'
import type { Database } from '../db/database.js'
import { ADDRESS_HOST, ownerIdsNamed, parseRepoName, repoIdsNamed } from './audit-search.js'
import type { Subject } from './timeline.js'

// The console's search box: whatever a customer pastes (a repository's address, `owner/name`,
// a login, a hook id, an id of any kind) to the timelines it can mean. One answer goes
// straight to its timeline; several (mona the user and mona the account) are offered.

const ID = /^\d{1,18}$/

/** An account's address: a host and a login alone. */
const ACCOUNT_ADDRESS = new RegExp(String.raw`^${ADDRESS_HOST}\/([^/\s?#]+)\/?(?:[?#].*)?$`, 'i')

/** The name a repository goes by now: its latest plan's, else its latest event's. */
async function repoSubject(db: Kysely<Database>, id: number): Promise<Subject | undefined> {
  const planned = await db
    .selectFrom('app.batch_repo as r')
    .innerJoin('app.batch as b', 'b.id', 'r.batch_id')
    .select(['b.owner_login', 'r.repo_name'])
    .where('r.repo_id', '=', id)
    .orderBy('b.updated_at', 'desc')
    .executeTakeFirst()
  if (planned !== undefined) return { kind: 'repo', id, name: `${planned.owner_login}/${planned.repo_name}` }
  const recorded = await db
    .selectFrom('app.audit_event')
    .select(['owner_login', 'repo_name'])
    .where('repo_id', '=', id)
    .where('owner_login', 'is not', null)
    .where('repo_name', 'is not', null)
    .orderBy('at', 'desc')
    .orderBy('id', 'desc')
    .executeTakeFirst()
  return recorded === undefined ? undefined : { kind: 'repo', id, name: `${recorded.owner_login}/${recorded.repo_name}` }
}

async function userSubject(db: Kysely<Database>, where: { id: number } | { login: string }): Promise<Subject | undefined> {
  let query = db.selectFrom('app.inventory').select(['user_id', 'user_login'])
  query = 'id' in where ? query.where('user_id', '=', where.id) : query.where((eb) => eb(eb.fn('lower', ['user_login']), '=', where.login.toLowerCase()))
  const user = await query.executeTakeFirst()
  return user === undefined ? undefined : { kind: 'user', id: user.user_id, login: user.user_login }
}

async function ownerSubjects(db: Kysely<Database>, where: { id: number } | { login: string }): Promise<Subject[]> {
  const ids = 'id' in where ? [where.id] : await ownerIdsNamed(db, where.login)
  if ('login' in where) {
    const planned = await db
      .selectFrom('app.batch')
      .select('owner_id')
      .distinct()
      .where((eb) => eb(eb.fn('lower', ['owner_login']), '=', where.login.toLowerCase()))
      .execute()
    for (const p of planned) if (!ids.includes(p.owner_id)) ids.push(p.owner_id)
  }
  const found: Subject[] = []
  for (const id of ids) {
    const latest =
      (await db.selectFrom('app.batch').select('owner_login as login').where('owner_id', '=', id).orderBy('updated_at', 'desc').executeTakeFirst()) ??
      (await db.selectFrom('app.audit_event').select('owner_login as login').where('owner_id', '=', id).where('owner_login', 'is not', null).orderBy('at', 'desc').orderBy('id', 'desc').executeTakeFirst())
    if (latest?.login != null) found.push({ kind: 'owner', id, login: latest.login })
  }
  return found
}

/** The subject of a timeline's address, when anything is recorded about it. */
export async function subjectOf(db: Kysely<Database>, kind: Subject['kind'], id: number): Promise<Subject | undefined> {
  if (kind === 'repo') return repoSubject(db, id)
  if (kind === 'user') return userSubject(db, { id })
  return (await ownerSubjects(db, { id }))[0]
}

/** Every timeline the pasted text can mean; none when it matches nothing recorded. */
export async function findSubjects(db: Kysely<Database>, pasted: string): Promise<Subject[]> {
  const text = pasted.trim()
  if (text === '') return []
  if (ID.test(text)) {
    const id = Number(text)
    // A hook id first: it is what the customer's webhook settings and the vendor's logs show.
    const task = await db.selectFrom('app.cleanup_task').select(['kind', 'repo_id', 'owner_id']).where('hook_id', '=', id).executeTakeFirst()
    const legacy = task ?? (await db.selectFrom('legacy.webhooks').select(['kind', 'repo_id', 'owner_id']).where('hook_id', '=', id).executeTakeFirst())
    if (legacy !== undefined) {
      const subject = legacy.kind === 'repo' && legacy.repo_id !== null ? await repoSubject(db, Number(legacy.repo_id)) : (await ownerSubjects(db, { id: Number(legacy.owner_id) }))[0]
      if (subject !== undefined) return [subject]
    }
    const found: Subject[] = []
    const repo = await repoSubject(db, id)
    if (repo !== undefined) found.push(repo)
    const user = await userSubject(db, { id })
    if (user !== undefined) found.push(user)
    found.push(...(await ownerSubjects(db, { id })))
    return found
  }
  // An address or owner/name: a repository (an address with only an owner: that account).
  const account = ACCOUNT_ADDRESS.exec(text)?.[1]
  if (account === undefined && (text.includes('/') || /^https?:/i.test(text))) {
    const repo = parseRepoName(text)
    const ids = await repoIdsNamed(db, repo.name, repo.owner)
    const planned = await db
      .selectFrom('app.batch_repo as r')
      .innerJoin('app.batch as b', 'b.id', 'r.batch_id')
      .select('r.repo_id')
      .distinct()
      .where((eb) => eb(eb.fn('lower', ['r.repo_name']), '=', repo.name.toLowerCase()))
      .$if(repo.owner !== undefined, (qb) => qb.where((eb) => eb(eb.fn('lower', ['b.owner_login']), '=', repo.owner!.toLowerCase())))
      .execute()
    for (const p of planned) if (!ids.includes(p.repo_id)) ids.push(p.repo_id)
    const found: Subject[] = []
    for (const id of ids) {
      const subject = await repoSubject(db, id)
      if (subject !== undefined) found.push(subject)
    }
    return found
  }
  const login = (account ?? text).replace(/^@/, '')
  const user = await userSubject(db, { login })
  return [...(user === undefined ? [] : [user]), ...(await ownerSubjects(db, { login }))]
}
