// GitHub's error replies: a status, a message clients match on (octokit's throttling and
// auth plugins read some of them), and a documentation link.

export const DOCS_URL = 'https://docs.github.com/rest'

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly documentationUrl = DOCS_URL,
  ) {
    super(message)
  }
}

/** A 301 to where a renamed or transferred repository lives now. */
export class MovedPermanently extends Error {
  constructor(readonly location: string) {
    super('Moved Permanently')
  }
}

export function notFound(): ApiError {
  return new ApiError(404, 'Not Found')
}

export function requiresAuthentication(): ApiError {
  return new ApiError(401, 'Requires authentication')
}

/** What an installation or user token gets for something the app has no permission for. */
export function notAccessibleByIntegration(): ApiError {
  return new ApiError(403, 'Resource not accessible by integration')
}

/** What GitHub answers when an endpoint takes a JWT and got something else. */
export function jwtRequired(): ApiError {
  return new ApiError(401, 'A JSON web token could not be decoded')
}

export function validationFailed(message: string): ApiError {
  return new ApiError(422, message)
}
