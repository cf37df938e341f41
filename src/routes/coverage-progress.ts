import { underWay, type Work } from '../migration/background-work.js'

// What a person reads of an owner's coverage check under way: the same words on the page and
// in its updates.

export function coverageText(work: Work, ownerLogin: string): string {
  const of = `${work.done} of ${work.total}`
  switch (work.phase) {
    case 'listing':
      return `Checking coverage on ${ownerLogin}: listing the installation, page ${of}`
    case 'lookups':
      return `Checking coverage on ${ownerLogin}: looking up what the installation does not list, ${of} ${work.total === 1 ? 'repository' : 'repositories'}`
    default:
      return work.state === 'queued' ? `The coverage check on ${ownerLogin} is waiting for its turn` : `Checking coverage on ${ownerLogin}`
  }
}

/** The check of one owner, as the page shows it: under way (what it is doing), or failed (what to do). */
export function coverageState(work: Work | undefined, ownerLogin: string): { checking?: string; checkFailed?: string } {
  if (underWay(work)) return { checking: coverageText(work!, ownerLogin) }
  if (work?.state === 'failed') return { checkFailed: work.message! }
  return {}
}

/** What GET /migrate/progress answers of the checks of the user's owners: each under way, and what it is doing. */
export function coverageProgress(owners: { owner_id: number; owner_login: string }[], checks: Work[]) {
  return owners.map((owner) => {
    const work = checks.find((w) => w.subject_id === owner.owner_id)
    const going = underWay(work)
    return { ownerId: owner.owner_id, ownerLogin: owner.owner_login, underWay: going, text: going ? coverageText(work!, owner.owner_login) : null }
  })
}
