// Whether an error says that the database cannot be reached right now, rather than a fault of
// this service's (a constraint, a syntax error, a bug): the server refused or dropped the
// connection, did not answer in time, or is shutting down, starting up or recovering from a
// crash. A request that failed so can succeed once the database is back: it is answered 503.
// (A connection refused or lost on the way to GitHub, which some code paths let through, reads
// the same and is as passing: it is answered the same.)

/** The system's words for a connection that could not be made or was lost. */
const SYSTEM_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'])

/**
 * Postgres' own: class 08 (connection exception), 57P01 admin shutdown, 57P02 crash shutdown,
 * 57P03 cannot connect now (starting up, shutting down, in recovery), 53300 too many connections.
 */
const SQLSTATE = /^(08[0-9A-Z]{3}|57P0[123]|53300)$/

/** node-postgres' words, which come without a code. */
const DRIVER_MESSAGES = [/^Connection terminated/, /^timeout exceeded when trying to connect$/, /^Client has encountered a connection error and is not queryable$/]

export function unavailable(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 5) return false
  const { code, message, cause, errors } = error as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown }
  if (typeof code === 'string' && (SYSTEM_CODES.has(code) || SQLSTATE.test(code))) return true
  if (typeof message === 'string' && DRIVER_MESSAGES.some((m) => m.test(message))) return true
  // Several addresses tried (an AggregateError), or an error that wraps the database's.
  if (Array.isArray(errors) && errors.some((e) => unavailable(e, depth + 1))) return true
  return unavailable(cause, depth + 1)
}
