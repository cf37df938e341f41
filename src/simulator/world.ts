import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import type { WorldLegacyRegistration } from '../legacy/world-seed.js'
import { worldSchema } from './world-schema.js'

// A simulator world file (shared/contracts/world.schema.json): the schema's rules, then the
// references between its parts, each failure named by the JSON pointer of the first bad value.

export type Permission = 'read' | 'write' | 'admin'

export interface WorldHook {
  id: number
  url: string
  events?: string[]
  active?: boolean
  created_by?: string
}

export interface World {
  app: {
    id: number
    slug: string
    name?: string
    client_id: string
    client_secret: string
    webhook_secret: string
    private_key_file?: string
    permissions: Record<string, Permission>
    callback_url?: string
    setup_url?: string
    webhook_url?: string
  }
  legacy_oauth_app: { client_id: string; client_secret?: string; hook_url?: string }
  users: { id: number; login: string; site_admin?: boolean; legacy_token?: string | null; legacy_scopes?: string[]; legacy_token_sso_orgs?: string[] }[]
  orgs?: {
    id: number
    login: string
    members: Record<string, 'admin' | 'member'>
    hooks?: WorldHook[]
    default_repository_permission?: 'none' | Permission
    saml_sso?: boolean
  }[]
  repos: {
    id: number
    owner: string
    name: string
    private?: boolean
    archived?: boolean
    collaborators?: Record<string, Permission>
    hooks?: WorldHook[]
  }[]
  installations?: {
    id: number
    account: string
    repository_selection: 'all' | 'selected'
    repositories?: number[]
    suspended?: boolean
  }[]
  legacy_registrations?: (WorldLegacyRegistration & { id?: number })[]
}

export class WorldError extends Error {
  override name = 'WorldError'
}

function schemaValidator() {
  const ajv = new Ajv2020({ allErrors: false, strict: false })
  return ajv.compile<World>(worldSchema)
}

/** Checks what the schema cannot: uniqueness and references. Returns the first problem. */
function referenceProblem(world: World): string | undefined {
  const accounts = new Map<string, { id: number; where: string }>()
  const accountIds = new Map<number, string>()
  const account = (login: string, id: number, where: string): string | undefined => {
    const key = login.toLowerCase()
    if (accounts.has(key)) return `${where}/login: "${login}" is already the login of ${accounts.get(key)!.where}`
    if (accountIds.has(id)) return `${where}/id: ${id} is already the id of ${accountIds.get(id)}`
    accounts.set(key, { id, where })
    accountIds.set(id, where)
    return undefined
  }
  for (const [i, user] of world.users.entries()) {
    const problem = account(user.login, user.id, `/users/${i}`)
    if (problem) return problem
  }
  const userLogins = new Set(world.users.map((u) => u.login.toLowerCase()))
  const hookIds = new Map<number, string>()
  const hooks = (list: WorldHook[] | undefined, where: string): string | undefined => {
    for (const [j, hook] of (list ?? []).entries()) {
      if (hookIds.has(hook.id)) return `${where}/hooks/${j}/id: ${hook.id} is already the id of ${hookIds.get(hook.id)}`
      hookIds.set(hook.id, `${where}/hooks/${j}`)
    }
    return undefined
  }
  for (const [i, org] of (world.orgs ?? []).entries()) {
    const problem = account(org.login, org.id, `/orgs/${i}`) ?? hooks(org.hooks, `/orgs/${i}`)
    if (problem) return problem
    for (const member of Object.keys(org.members)) {
      if (!userLogins.has(member.toLowerCase())) return `/orgs/${i}/members/${member}: no user has this login`
    }
  }
  const repoIds = new Map<number, string>()
  const repoNames = new Set<string>()
  for (const [i, repo] of world.repos.entries()) {
    const where = `/repos/${i}`
    if (!accounts.has(repo.owner.toLowerCase())) return `${where}/owner: no user or org has the login "${repo.owner}"`
    if (repoIds.has(repo.id)) return `${where}/id: ${repo.id} is already the id of ${repoIds.get(repo.id)}`
    repoIds.set(repo.id, where)
    const fullName = `${repo.owner}/${repo.name}`.toLowerCase()
    if (repoNames.has(fullName)) return `${where}/name: ${repo.owner}/${repo.name} appears twice`
    repoNames.add(fullName)
    for (const login of Object.keys(repo.collaborators ?? {})) {
      if (!userLogins.has(login.toLowerCase())) return `${where}/collaborators/${login}: no user has this login`
    }
    const problem = hooks(repo.hooks, where)
    if (problem) return problem
  }
  const orgLogins = new Set((world.orgs ?? []).map((o) => o.login.toLowerCase()))
  for (const [i, user] of world.users.entries()) {
    for (const [j, login] of (user.legacy_token_sso_orgs ?? []).entries()) {
      if (!orgLogins.has(login.toLowerCase())) return `/users/${i}/legacy_token_sso_orgs/${j}: no org has the login "${login}"`
    }
  }
  const installed = new Set<string>()
  const installationIds = new Set<number>()
  for (const [i, inst] of (world.installations ?? []).entries()) {
    const where = `/installations/${i}`
    const owner = inst.account.toLowerCase()
    if (!accounts.has(owner)) return `${where}/account: no user or org has the login "${inst.account}"`
    if (installationIds.has(inst.id)) return `${where}/id: ${inst.id} is the id of an earlier installation`
    if (installed.has(owner)) return `${where}/account: the app is already installed on ${inst.account}`
    installationIds.add(inst.id)
    installed.add(owner)
    for (const [j, repoId] of (inst.repositories ?? []).entries()) {
      const repo = world.repos.find((r) => r.id === repoId)
      if (repo === undefined) return `${where}/repositories/${j}: no repo has the id ${repoId}`
      if (repo.owner.toLowerCase() !== owner) return `${where}/repositories/${j}: repo ${repoId} belongs to ${repo.owner}, not ${inst.account}`
    }
  }
  return undefined
}

/** Validates a parsed world; throws a WorldError naming the first invalid place. */
export function validateWorld(data: unknown, source = 'world'): World {
  const validate = schemaValidator()
  if (!validate(data)) {
    const [error] = validate.errors!
    const where = error!.instancePath === '' ? '/' : error!.instancePath
    const detail = error!.keyword === 'additionalProperties' ? ` (${String(error!.params['additionalProperty'])})` : ''
    throw new WorldError(`${source}: ${where}: ${error!.message}${detail}`)
  }
  const problem = referenceProblem(data)
  if (problem !== undefined) throw new WorldError(`${source}: ${problem}`)
  return data
}

export interface LoadedWorld {
  world: World
  /** The app's private key, when the world names a key file (relative to the world file). */
  privateKey?: string
}

export async function loadWorld(file: string): Promise<LoadedWorld> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    throw new WorldError(`${file}: cannot be read (${(error as NodeJS.ErrnoException).code})`)
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (error) {
    throw new WorldError(`${file}: not valid JSON: ${(error as Error).message}`)
  }
  const world = validateWorld(data, file)
  if (world.app.private_key_file === undefined) return { world }
  const keyFile = path.resolve(path.dirname(file), world.app.private_key_file)
  try {
    return { world, privateKey: await readFile(keyFile, 'utf8') }
  } catch (error) {
    throw new WorldError(`${file}: /app/private_key_file: ${keyFile} cannot be read (${(error as NodeJS.ErrnoException).code})`)
  }
}
