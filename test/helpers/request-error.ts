import { RequestError } from 'octokit'

/** The RequestError a request to the simulator fails with; throws when it succeeds instead. */
export async function failure(promise: Promise<unknown>): Promise<RequestError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof RequestError) return error
    throw error
  }
  throw new Error('the request succeeded')
}
