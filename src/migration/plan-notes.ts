import type { PlanNoteRecord } from '../db/database.js'
import { explainFault, type TokenFault } from '../github/token-fault.js'

// What planning could not see with the user's legacy token, and why, for the person who can act
// on it: kept with the plan and shown on the wizard page next to the owner it concerns. One note
// per owner and kind of fault; repositories are counted, never named (others' may be private).

export type PlanNote = PlanNoteRecord

type Owner = { id: number; login: string }

export class PlanNotes {
  private readonly notes = new Map<string, { fault: TokenFault; owner: Owner | null; what: string; instead: string | undefined; repos: number }>()

  /** Records a fault about `what`, or about one more repository of the owner when `what` is omitted; `instead` says what is done without. */
  add(fault: TokenFault, owner: Owner | null, what?: string, instead?: string): void {
    const key = `${owner?.id ?? ''}:${fault.kind}:${what ?? ''}`
    const known = this.notes.get(key)
    if (known === undefined) this.notes.set(key, { fault, owner, what: what ?? '', instead, repos: 1 })
    else {
      known.repos += 1
      // Any of the answers may carry GitHub's single sign-on link.
      if (known.fault.kind === 'sso' && known.fault.url === undefined) known.fault = fault
    }
  }

  list(): PlanNote[] {
    return [...this.notes.values()].map(({ fault, owner, what, instead, repos }) => {
      const subject = what !== '' ? what : `${repos} ${repos === 1 ? 'repository' : 'repositories'} of ${owner!.login}`
      const note: PlanNote = { ownerId: owner?.id ?? null, ownerLogin: owner?.login ?? null, fault: fault.kind, message: explainFault(fault, subject, instead) }
      if (fault.kind === 'sso' && fault.url !== undefined) note.url = fault.url
      if (fault.kind === 'scope') note.scopes = fault.needs
      return note
    })
  }
}
