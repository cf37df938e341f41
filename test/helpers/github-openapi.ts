import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Ajv, type AnySchemaObject, type ErrorObject, type ValidateFunction } from 'ajv'
import type { Test } from 'tap'

// Checks bodies against GitHub's published OpenAPI description, as extracted into
// test/fixtures/github-openapi/schemas.json (see extract.ts there). The description is
// OpenAPI 3.0, whose schemas are nearly JSON Schema draft-07; the differences are translated
// when loading:
//  - `nullable: true` becomes a type union (or an anyOf with null when there is no `type`,
//    e.g. next to a `$ref`), since ajv's draft-07 has no such keyword;
//  - a `oneOf` with a `discriminator` picks the mapped schema when the body carries the
//    discriminating property: GET /user's private-user and public-user overlap, so any
//    private-user body would otherwise fail "must match exactly one schema". Without the
//    property, matching any one of them is enough;
//  - formats (date-time, uri, email, ...) are checked by the small functions below, so the
//    test does not rely on ajv-formats, which only arrives here through other packages.

const root = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../..' : '../..', import.meta.url))
export const FIXTURE_FILE = `${root}/test/fixtures/github-openapi/schemas.json`

type Schema = Record<string, unknown>

interface Fixture {
  source: { package: string; version: string; file: string; openapi: string; extracted: string }
  operations: Record<string, { operationId: string | null; responses: Record<string, { schema?: Schema; body?: false }>; standInFor?: string; note?: string }>
  webhooks: Record<string, { operationId: string | null; schema: Schema }>
  components: { schemas: Record<string, Schema> }
}

const COMPONENTS = 'https://api.github.com/openapi/components/schemas/'

/** OpenAPI 3.0 schema to draft-07, recursively; see the notes at the top. */
function translate(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(translate)
  if (typeof value !== 'object' || value === null) return value
  const out: Schema = {}
  for (const [key, v] of Object.entries(value)) {
    if (key === '$ref' && typeof v === 'string') out[key] = v.replace('#/components/schemas/', COMPONENTS)
    else if (key === 'properties' || key === 'patternProperties') {
      out[key] = Object.fromEntries(Object.entries(v as Schema).map(([name, s]) => [name, translate(s)]))
    } else out[key] = translate(v)
  }
  let schema = out
  if (typeof schema['discriminator'] === 'object' && Array.isArray(schema['oneOf'])) {
    const { discriminator, oneOf, ...rest } = schema
    const { propertyName, mapping = {} } = discriminator as { propertyName: string; mapping?: Record<string, string> }
    let chain: Schema = { anyOf: oneOf }
    for (const [name, ref] of Object.entries(mapping).reverse()) {
      chain = {
        if: { required: [propertyName], properties: { [propertyName]: { const: name } } },
        then: { $ref: ref.replace('#/components/schemas/', COMPONENTS) },
        else: chain,
      }
    }
    schema = { ...rest, ...chain }
  }
  if ('nullable' in schema) {
    const { nullable, ...rest } = schema
    schema = rest
    if (nullable === true) {
      if (typeof rest['type'] === 'string') {
        schema = { ...rest, type: [rest['type'], 'null'] }
        if (Array.isArray(rest['enum']) && !rest['enum'].includes(null)) schema['enum'] = [...rest['enum'], null]
      } else {
        schema = { anyOf: [{ type: 'null' }, rest] }
      }
    }
  }
  return schema
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i

function newAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictRequired: false, strictTuples: false })
  ajv.addFormat('date-time', (s: string) => DATE_TIME.test(s) && !Number.isNaN(Date.parse(s)))
  ajv.addFormat('date', /^\d{4}-\d{2}-\d{2}$/)
  ajv.addFormat('uri', (s: string) => /^[a-z][a-z0-9+.-]*:/i.test(s) && URL.canParse(s))
  // GitHub's *_url templates ("{/other_user}") are not URLs; any string is a template.
  ajv.addFormat('uri-template', () => true)
  ajv.addFormat('email', /^[^\s@]+@[^\s@]+$/)
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) })
  return ajv
}

interface Loaded {
  fixture: Fixture
  ajv: Ajv
  compiled: Map<string, ValidateFunction>
}

let loaded: Loaded | undefined

function load(): Loaded {
  if (loaded) return loaded
  const fixture = JSON.parse(readFileSync(FIXTURE_FILE, 'utf8')) as Fixture
  const ajv = newAjv()
  for (const [name, schema] of Object.entries(fixture.components.schemas)) {
    ajv.addSchema(translate(schema) as AnySchemaObject, `${COMPONENTS}${name}`)
  }
  loaded = { fixture, ajv, compiled: new Map() }
  return loaded
}

export function fixtureSource(): Fixture['source'] {
  return load().fixture.source
}

/** Every operation of the fixture, as "METHOD /path/{template}". */
export function operations(): string[] {
  return Object.keys(load().fixture.operations)
}

function compile(key: string, schema: Schema): ValidateFunction {
  const { ajv, compiled } = load()
  let validate = compiled.get(key)
  if (validate === undefined) {
    validate = ajv.compile(translate(schema) as AnySchemaObject)
    compiled.set(key, validate)
  }
  return validate
}

/** Each error as "JSON pointer into the body: message", the pointer naming the bad value. */
function describe(errors: ErrorObject[] | null | undefined): string[] {
  const lines = new Set<string>()
  for (const e of errors ?? []) {
    // if/then/else and anyOf add a summary line on top of the errors that explain it.
    if (e.keyword === 'if') continue
    let where = e.instancePath
    let message = e.message ?? e.keyword
    if (e.keyword === 'required') {
      where += `/${String(e.params['missingProperty'])}`
      message = 'required, missing'
    } else if (e.keyword === 'type' || e.keyword === 'format') {
      message += ` (${e.schemaPath})`
    } else if (e.keyword === 'enum') {
      message += `: ${JSON.stringify(e.params['allowedValues'])}`
    }
    lines.add(`${where === '' ? '/' : where}: ${message}`)
  }
  return [...lines]
}

function errorSchema(): Schema {
  return { $ref: '#/components/schemas/basic-error' }
}

/**
 * Problems of a response body against the description; [] when it conforms. `template` is the
 * path template as in the description ("/repos/{owner}/{repo}"), without /api/v3. An
 * operation outside the fixture throws, so a typo cannot pass. An error status the operation
 * does not document is checked against basic-error, which GitHub sends for every error.
 */
export function conformanceErrors(method: string, template: string, status: number, body: unknown): string[] {
  const key = `${method.toUpperCase()} ${template}`
  const operation = load().fixture.operations[key]
  if (operation === undefined) throw new Error(`${key} is not in ${FIXTURE_FILE}; known: ${operations().join(', ')}`)
  const documented = operation.responses[String(status)]
  if (documented === undefined) {
    if (status >= 400) {
      const validate = compile('basic-error', errorSchema())
      return validate(body) ? [] : describe(validate.errors).map((e) => `(status ${status}, basic-error) ${e}`)
    }
    return [`status ${status} is not documented for ${key} (documented: ${Object.keys(operation.responses).join(', ')})`]
  }
  if (documented.schema === undefined) {
    return body === undefined || body === null || body === '' ? [] : [`${key} ${status} has no body in the description, got ${JSON.stringify(body).slice(0, 80)}`]
  }
  const validate = compile(`${key} ${status}`, documented.schema)
  return validate(body) ? [] : describe(validate.errors)
}

/** Problems of a webhook payload (`installation` + `created`, ...); [] when it conforms. */
export function webhookErrors(event: string, action: string, payload: unknown): string[] {
  const key = `${event}.${action}`
  const webhook = load().fixture.webhooks[key]
  if (webhook === undefined) throw new Error(`webhook ${key} is not in ${FIXTURE_FILE}; known: ${Object.keys(load().fixture.webhooks).join(', ')}`)
  const validate = compile(`webhook ${key}`, webhook.schema)
  return validate(payload) ? [] : describe(validate.errors)
}

export interface ConformOptions {
  /** Marks a known mismatch as tap todo (naming it), so the suite stays green until it is fixed. */
  todo?: string
}

export function assertConforms(t: Test, method: string, template: string, status: number, body: unknown, options: ConformOptions = {}): boolean {
  const errors = conformanceErrors(method, template, status, body)
  return t.strictSame(errors, [], `${method.toUpperCase()} ${template} ${status} conforms to @octokit/openapi ${fixtureSource().version}`, options.todo === undefined ? {} : { todo: options.todo })
}

export function assertWebhookConforms(t: Test, event: string, action: string, payload: unknown, options: ConformOptions = {}): boolean {
  const errors = webhookErrors(event, action, payload)
  return t.strictSame(errors, [], `webhook ${event}.${action} conforms to @octokit/openapi ${fixtureSource().version}`, options.todo === undefined ? {} : { todo: options.todo })
}

interface Matcher {
  operation: string
  method: string
  pattern: RegExp
  literals: number
}

let matchers: Matcher[] | undefined

/**
 * The fixture's operation for a concrete request ("GET", "/repos/mona/site/hooks"), or
 * undefined. Templates with more literal segments win ("/user/installations" over nothing,
 * "/repos/{o}/{r}/hooks" over a parameter in the same place).
 */
export function operationFor(method: string, path: string): string | undefined {
  matchers ??= operations()
    .map((operation) => {
      const [m, template] = operation.split(' ') as [string, string]
      const segments = template.split('/')
      const pattern = new RegExp(`^${segments.map((s) => (/^\{.+\}$/.test(s) ? '[^/]+' : s.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))).join('/')}/?$`)
      return { operation, method: m, pattern, literals: segments.filter((s) => !s.startsWith('{')).length }
    })
    .sort((a, b) => b.literals - a.literals)
  const bare = path.split('?')[0]!
  return matchers.find((m) => m.method === method.toUpperCase() && m.pattern.test(bare))?.operation
}

/** A schema's alternatives and parts, with references followed: what may describe one value. */
function expand(schema: unknown, out: Schema[] = [], depth = 0): Schema[] {
  if (typeof schema !== 'object' || schema === null || depth > 32) return out
  const s = schema as Schema
  const ref = s['$ref']
  if (typeof ref === 'string') {
    expand(load().fixture.components.schemas[ref.replace('#/components/schemas/', '')], out, depth + 1)
  }
  for (const key of ['allOf', 'anyOf', 'oneOf']) {
    if (Array.isArray(s[key])) for (const part of s[key]) expand(part, out, depth + 1)
  }
  out.push(s)
  return out
}

function undocumented(value: unknown, schemas: Schema[], where: string, found: Set<string>): void {
  const candidates = schemas.flatMap((s) => expand(s))
  if (Array.isArray(value)) {
    const items = candidates.map((c) => c['items']).filter((i): i is Schema => typeof i === 'object' && i !== null)
    for (const [i, item] of value.entries()) undocumented(item, items, `${where}/${i}`, found)
    return
  }
  if (typeof value !== 'object' || value === null) return
  for (const [key, child] of Object.entries(value)) {
    const declared = candidates.map((c) => (c['properties'] as Record<string, Schema> | undefined)?.[key]).filter((p): p is Schema => p !== undefined)
    const open = candidates.map((c) => c['additionalProperties']).filter((a) => a !== undefined && a !== false)
    if (declared.length === 0 && open.length === 0) {
      found.add(`${where}/${key}`)
      continue
    }
    undocumented(child, [...declared, ...open.filter((a): a is Schema => typeof a === 'object' && a !== null)], `${where}/${key}`, found)
  }
}

/**
 * JSON paths of properties the description does not mention (GitHub's schemas allow extra
 * properties, so these are not errors; in a simulator they are usually typos). Array indexes
 * are kept, so callers may want to fold them.
 */
export function undocumentedProperties(method: string, template: string, status: number, body: unknown): string[] {
  const key = `${method.toUpperCase()} ${template}`
  const operation = load().fixture.operations[key]
  if (operation === undefined) throw new Error(`${key} is not in ${FIXTURE_FILE}`)
  const schema = operation.responses[String(status)]?.schema ?? (status >= 400 ? errorSchema() : undefined)
  if (schema === undefined) return []
  const found = new Set<string>()
  undocumented(body, [schema], '', found)
  return [...found]
}

/** The same for a webhook payload. */
export function undocumentedWebhookProperties(event: string, action: string, payload: unknown): string[] {
  const webhook = load().fixture.webhooks[`${event}.${action}`]
  if (webhook === undefined) throw new Error(`webhook ${event}.${action} is not in ${FIXTURE_FILE}`)
  const found = new Set<string>()
  undocumented(payload, [webhook.schema], '', found)
  return [...found]
}
