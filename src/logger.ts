import type { FastifyRequest, FastifyServerOptions } from 'fastify'

/** Where log lines go (a pino destination): stdout unless a test passes its own. */
export interface LogDestination {
  write(line: string): void
}

// Query parameters that carry a credential or a one-time secret: OAuth callbacks
// (/auth/callback?code=...&state=...) and anything a client might put a token in.
const SECRET_PARAMETERS = new Set(['code', 'state', 'access_token', 'refresh_token', 'token', 'client_secret'])

const REDACTED = '[Redacted]'

function decodedName(name: string): string {
  try {
    return decodeURIComponent(name.replace(/\+/g, ' ')).toLowerCase()
  } catch {
    // A malformed escape still names nothing we know; keep the raw text for the comparison.
    return name.toLowerCase()
  }
}

/** The URL with the values of secret query parameters replaced; everything else kept as sent. */
export function redactUrl(url: string): string {
  const mark = url.indexOf('?')
  if (mark === -1) return url
  const query = url
    .slice(mark + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=')
      const name = eq === -1 ? pair : pair.slice(0, eq)
      return SECRET_PARAMETERS.has(decodedName(name)) ? `${name}=${REDACTED}` : pair
    })
    .join('&')
  return `${url.slice(0, mark)}?${query}`
}

// Fastify's own request serializer, except that the URL loses its secrets.
function serializeRequest(request: FastifyRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: redactUrl(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  }
}

export type LoggerOptions = Exclude<FastifyServerOptions['logger'], boolean | undefined>

/**
 * Pino options for the service. Besides the URL rewrite above, headers that carry a session
 * or a credential are censored wherever a request or response object is logged with them.
 */
export function loggerOptions(level: string, stream?: LogDestination): LoggerOptions {
  return {
    level,
    ...(stream === undefined ? {} : { stream }),
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'res.headers["set-cookie"]',
        'headers.authorization',
        'headers.cookie',
        'headers["set-cookie"]',
      ],
      censor: REDACTED,
    },
    serializers: { req: serializeRequest },
  }
}

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent'
const LEVELS: Record<Level, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity }

/**
 * A busy route's log level (a probe, a receiver asked for every delivery): `level`, unless the
 * service logs less than that. A route's level replaces the service's for its requests, so a
 * route set to 'warn' in a service at 'error' or 'silent' logged every failing probe.
 */
export function quieter(level: Level, serviceLevel: string): Level {
  const service = serviceLevel as Level
  return LEVELS[service] > LEVELS[level] ? service : level
}
