import { underWay, type Work } from '../migration/background-work.js'

// What a person reads of planning under way: the same words on the page and in its updates.

const repositories = (n: number): string => (n === 1 ? '1 repository' : `${n} repositories`)

export function planningText(work: Work): string {
  const of = `${work.done} of ${work.total}`
  switch (work.phase) {
    case 'repositories':
      return `Reading your repositories: page ${of}`
    case 'lookups':
      return `Looking up ${repositories(work.total!)} you enabled that GitHub did not list: ${of}`
    case 'roles':
      return `Checking your owners: ${of}`
    case 'installations':
      return `Checking where the App is installed: ${of}`
    default:
      return work.state === 'queued' ? 'Waiting for its turn' : 'Starting'
  }
}

/** What GET /migrate/progress answers: whether the page should keep waiting, and what to say. */
export function planningProgress(work: Work | undefined) {
  const going = underWay(work)
  return { underWay: going, state: work?.state ?? null, text: going ? planningText(work!) : null }
}
