import { createPrivateKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { Type, type Static } from '@sinclair/typebox'
import { envSchema } from 'env-schema'

// The only module that reads process.env: everything else receives a Config.

export type StaffRole = 'support' | 'operator'

export interface GitHubConfig {
  webUrl: string
  apiUrl: string
  appId: number
  appSlug: string
  clientId: string
  clientSecret: string
  privateKey: string
  webhookSecret: string
  /** Writes of one credential at least this many ms apart (GITHUB_WRITE_SPACING_MS; default 1000). */
  writeSpacingMs?: number
  /** This instance's GitHub requests in flight at most (GITHUB_MAX_IN_FLIGHT; default 8). */
  maxInFlight?: number
}

/**
 * Which proxies' X-Forwarded-* headers are believed: none (false), the nearest N hops, or the
 * proxies at these addresses and CIDR ranges (and `loopback`, `linklocal`, `uniquelocal`).
 */
export type TrustProxy = false | number | readonly string[]

/** The legacy OAuth App, as far as removing its hooks and its users' grants needs it. */
export interface LegacyConfig {
  /** Where the legacy hooks deliver: a hook whose URL does not start with it is never deleted. */
  hookUrl: string
  /** With both, a user's grant of the old app is revoked by API; without, they get GitHub's page. */
  oauthApp?: { clientId: string; clientSecret: string }
  /** The bearer secret of GET /legacy/hooks/{hook_id}; without it the endpoint answers 404. */
  receiverSecret?: string
}

export interface Config {
  databaseUrl: string
  host: string
  port: number
  publicUrl: string
  sessionSecret: string
  github: GitHubConfig
  legacy: LegacyConfig
  staff: ReadonlyMap<string, StaffRole>
  logLevel: string
  // Cookies carry `Secure` whenever the service is reached over https, i.e. everywhere
  // but local development.
  secureCookies: boolean
  trustProxy: TrustProxy
}

export type Env = Record<string, string | undefined>

const httpUrl = { pattern: '^https?://[^\\s/]+(/\\S*)?$' }
const staffPattern = '^\\s*$|^\\s*[A-Za-z0-9-]+:(support|operator)(\\s*,\\s*[A-Za-z0-9-]+:(support|operator))*\\s*$'

const schema = Type.Object({
  DATABASE_URL: Type.String({ pattern: '^postgres(ql)?://' }),
  HOST: Type.String({ default: '0.0.0.0' }),
  PORT: Type.Integer({ default: 3000, minimum: 0, maximum: 65535 }),
  PUBLIC_URL: Type.String(httpUrl),
  SESSION_SECRET: Type.String({ minLength: 32 }),
  GITHUB_WEB_URL: Type.String({ default: 'https://github.com', ...httpUrl }),
  GITHUB_API_URL: Type.String({ default: 'https://api.github.com', ...httpUrl }),
  GITHUB_APP_ID: Type.Integer({ minimum: 1 }),
  GITHUB_APP_SLUG: Type.String({ pattern: '^[a-z0-9][a-z0-9-]*$' }),
  GITHUB_APP_CLIENT_ID: Type.String(),
  GITHUB_APP_CLIENT_SECRET: Type.String(),
  GITHUB_WEBHOOK_SECRET: Type.String(),
  GITHUB_WRITE_SPACING_MS: Type.Integer({ default: 1000, minimum: 0, maximum: 60_000 }),
  GITHUB_MAX_IN_FLIGHT: Type.Integer({ default: 8, minimum: 1, maximum: 100 }),
  LEGACY_HOOK_URL: Type.String(httpUrl),
  LEGACY_OAUTH_CLIENT_ID: Type.Optional(Type.String()),
  LEGACY_OAUTH_CLIENT_SECRET: Type.Optional(Type.String()),
  LEGACY_RECEIVER_SECRET: Type.Optional(Type.String({ minLength: 32 })),
  STAFF: Type.String({ default: '', pattern: staffPattern }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
})

type RawEnv = Static<typeof schema>

// What each rule means to a person setting the variable, one entry per variable with a rule
// beyond "required" (blank values are removed before validation, so there is no "empty").
// None of these mention the value, so secrets never reach a log.
const explain: Record<string, string> = {
  DATABASE_URL: 'must be a postgres:// or postgresql:// connection URL',
  PORT: 'must be a whole number from 0 to 65535',
  PUBLIC_URL: 'must be an http:// or https:// URL',
  SESSION_SECRET: 'must be at least 32 characters long',
  GITHUB_WEB_URL: 'must be an http:// or https:// URL',
  GITHUB_API_URL: 'must be an http:// or https:// URL',
  GITHUB_APP_ID: 'must be a positive whole number (the App ID from the app settings page)',
  GITHUB_APP_SLUG: 'must be the app slug as in https://github.com/apps/<slug> (lower case, digits, dashes)',
  GITHUB_WRITE_SPACING_MS: 'must be a whole number of milliseconds from 0 to 60000 (GitHub asks for 1000 between writes of one credential)',
  GITHUB_MAX_IN_FLIGHT: 'must be a whole number from 1 to 100 (GitHub requests one instance keeps in flight at once)',
  LEGACY_HOOK_URL: 'must be an http:// or https:// URL (the delivery URL of the legacy OAuth App hooks)',
  LEGACY_RECEIVER_SECRET: 'must be at least 32 characters long (the vendor\'s legacy receiver sends it as a bearer token)',
  STAFF: 'must be a comma-separated list of login:role, roles support or operator (e.g. "mona:operator,hubot:support")',
  LOG_LEVEL: 'must be one of fatal, error, warn, info, debug, trace, silent',
}

export class ConfigError extends Error {
  readonly problems: string[]
  constructor(problems: string[]) {
    super(`Configuration is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

interface AjvError {
  instancePath: string
  keyword: string
  params: Record<string, unknown>
}

function describe(error: AjvError): string {
  if (error.keyword === 'required') {
    return `${String(error.params['missingProperty'])} is required`
  }
  const name = error.instancePath.replace(/^\//, '')
  return `${name} ${explain[name]!}`
}

// `PORT=` in a .env file or an empty field in a hosting dashboard means "not set": the default
// applies, and a required variable is reported as missing rather than as too short.
function isSet(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== ''
}

function withoutBlanks(env: Env): Env {
  return Object.fromEntries(Object.entries(env).filter(([, value]) => isSet(value)))
}

function validate(env: Env): { raw?: RawEnv; problems: string[] } {
  try {
    // A copy, because ajv's coercion and defaults write into the object it validates.
    const raw = envSchema<RawEnv>({ schema: structuredClone(schema), data: withoutBlanks(env), env: false })
    return { raw, problems: [] }
  } catch (error) {
    const { errors } = error as { errors: AjvError[] }
    // A union (LOG_LEVEL) reports one error per branch; one line per variable is enough.
    const problems = [...new Set(errors.map(describe))]
    return { problems }
  }
}

// Checked apart from the schema: exactly one of two variables, and the key must parse.
function readPrivateKey(env: Env, problems: string[]): string {
  const inline = env['GITHUB_APP_PRIVATE_KEY']
  const file = env['GITHUB_APP_PRIVATE_KEY_FILE']
  if (isSet(inline) && isSet(file)) {
    problems.push('set only one of GITHUB_APP_PRIVATE_KEY and GITHUB_APP_PRIVATE_KEY_FILE')
    return ''
  }
  let pem: string
  let source: string
  if (isSet(inline)) {
    // Hosting dashboards often store a PEM on one line with literal "\n".
    pem = inline.replace(/\\n/g, '\n')
    source = 'GITHUB_APP_PRIVATE_KEY'
  } else if (isSet(file)) {
    source = 'GITHUB_APP_PRIVATE_KEY_FILE'
    try {
      pem = readFileSync(file, 'utf8')
    } catch (error) {
      // The path is not a secret, and naming it is what lets the operator fix a typo.
      problems.push(`${source} cannot be read: ${file} (${(error as NodeJS.ErrnoException).code})`)
      return ''
    }
  } else {
    problems.push('GITHUB_APP_PRIVATE_KEY or GITHUB_APP_PRIVATE_KEY_FILE is required')
    return ''
  }
  try {
    createPrivateKey(pem)
  } catch {
    problems.push(`${source} is not a PEM private key (download one from the GitHub App settings page)`)
    return ''
  }
  return pem
}

const PROXY_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal'])
const TRUST_PROXY_RULE =
  'TRUST_PROXY must be a hop count from 0 to 32 (e.g. 1) or a comma-separated list of proxy addresses and CIDR ranges (e.g. "10.0.0.0/8,127.0.0.1"; also loopback, linklocal, uniquelocal)'

function isProxyAddress(entry: string): boolean {
  if (PROXY_RANGES.has(entry)) return true
  const [address = '', prefix, ...rest] = entry.split('/')
  // No zone index (fe80::1%eth0): a proxy's address as the socket reports it has none.
  const family = address.includes('%') ? 0 : isIP(address)
  if (family === 0 || rest.length > 0) return false
  if (prefix === undefined) return true
  // Written plainly, and never /0: a range holding every address would believe any client.
  return /^[1-9][0-9]*$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128)
}

// Checked apart from the schema: a hop count or a list, each address parsed. Unset trusts no
// proxy, so that no client can choose its own address; `true` (everyone) is not offered.
function readTrustProxy(env: Env, problems: string[]): TrustProxy {
  const value = env['TRUST_PROXY']
  if (!isSet(value)) return false
  const text = value.trim()
  if (/^[0-9]+$/.test(text)) {
    const hops = Number(text)
    if (hops <= 32) return hops === 0 ? false : hops
  } else {
    const entries = text.split(',').map((entry) => entry.trim())
    if (entries.every(isProxyAddress)) return entries
  }
  problems.push(TRUST_PROXY_RULE)
  return false
}

export function parseStaff(value: string): Map<string, StaffRole> {
  const staff = new Map<string, StaffRole>()
  for (const entry of value.split(',')) {
    const [login, role] = entry.trim().split(':')
    if (login && role) staff.set(login.toLowerCase(), role as StaffRole)
  }
  return staff
}

/** Validates the whole environment at once and throws a ConfigError naming every problem. */
export function loadConfig(env: Env = process.env): Config {
  const { raw, problems } = validate(env)
  // The key is checked even when something else is wrong: the operator sees every problem at once.
  const privateKey = readPrivateKey(env, problems)
  const trustProxy = readTrustProxy(env, problems)
  // One without the other can revoke nothing: said at start, not at the first user's finish.
  if (isSet(env['LEGACY_OAUTH_CLIENT_ID']) !== isSet(env['LEGACY_OAUTH_CLIENT_SECRET'])) {
    problems.push('LEGACY_OAUTH_CLIENT_ID and LEGACY_OAUTH_CLIENT_SECRET must be set together (the legacy OAuth App\'s credentials, to revoke its grants), or neither')
  }
  if (problems.length > 0 || raw === undefined) throw new ConfigError(problems)

  return {
    databaseUrl: raw.DATABASE_URL,
    host: raw.HOST,
    port: raw.PORT,
    publicUrl: raw.PUBLIC_URL.replace(/\/+$/, ''),
    sessionSecret: raw.SESSION_SECRET,
    github: {
      webUrl: raw.GITHUB_WEB_URL.replace(/\/+$/, ''),
      apiUrl: raw.GITHUB_API_URL.replace(/\/+$/, ''),
      appId: raw.GITHUB_APP_ID,
      appSlug: raw.GITHUB_APP_SLUG,
      clientId: raw.GITHUB_APP_CLIENT_ID,
      clientSecret: raw.GITHUB_APP_CLIENT_SECRET,
      privateKey,
      webhookSecret: raw.GITHUB_WEBHOOK_SECRET,
      writeSpacingMs: raw.GITHUB_WRITE_SPACING_MS,
      maxInFlight: raw.GITHUB_MAX_IN_FLIGHT,
    },
    legacy: {
      hookUrl: raw.LEGACY_HOOK_URL,
      ...(raw.LEGACY_OAUTH_CLIENT_ID === undefined || raw.LEGACY_OAUTH_CLIENT_SECRET === undefined
        ? {}
        : { oauthApp: { clientId: raw.LEGACY_OAUTH_CLIENT_ID, clientSecret: raw.LEGACY_OAUTH_CLIENT_SECRET } }),
      ...(raw.LEGACY_RECEIVER_SECRET === undefined ? {} : { receiverSecret: raw.LEGACY_RECEIVER_SECRET }),
    },
    staff: parseStaff(raw.STAFF),
    logLevel: raw.LOG_LEVEL,
    secureCookies: raw.PUBLIC_URL.startsWith('https://'),
    trustProxy,
  }
}

/**
 * The database URL for commands that need nothing else (CLI, tests, demo). Undefined means
 * "none given": callers that can start an embedded Postgres do so.
 */
export function databaseUrlFrom(env: Env = process.env): string | undefined {
  const url = env['DATABASE_URL']
  if (url === undefined || url === '') return undefined
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new ConfigError([`DATABASE_URL ${explain['DATABASE_URL']}`])
  }
  return url
}

/** The process environment, for entry points to hand to the functions above and to commands. */
export function processEnv(): Env {
  return process.env
}

/** Whether a stream is a person's terminal, for progress lines; CI sets CI=true. */
export function isInteractive(stream: NodeJS.WritableStream, env: Env): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true && env['CI'] !== 'true'
}
