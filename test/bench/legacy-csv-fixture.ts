import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { LEGACY_CSV_COLUMNS } from '../../src/legacy/csv-records.js'

// A synthetic legacy export shaped like a large vendor's: many users, a few hooks each,
// orgs shared between users, some org hooks, quoted fields here and there.

export async function writeLegacyCsv(file: string, rows: number): Promise<void> {
  const out = createWriteStream(file)
  out.write(`${LEGACY_CSV_COLUMNS.join(',')}\n`)
  let batch = ''
  for (let i = 0; i < rows; i++) {
    const user = 1 + Math.floor(i / 4)
    const org = i % 3 === 0
    const ownerId = org ? 10_000_000 + (user % 5000) : user
    const kind = org && i % 97 === 0 ? 'org' : 'repo'
    const repoId = kind === 'repo' ? String(20_000_000 + i) : ''
    const repoName = kind === 'repo' ? (i % 50 === 0 ? `"repo, ""${i}"""` : `repo-${i}`) : ''
    const ownerLogin = org ? `org-${ownerId}` : `user-${user}`
    const minute = String(i % 60).padStart(2, '0')
    batch +=
      `${user},user-${user},gho_${user.toString(36).padStart(36, '0')},"repo,admin:repo_hook",${kind},${ownerId},${ownerLogin},` +
      `${org ? 'Organization' : 'User'},${repoId},${repoName},${30_000_000 + i},https://ci.example.com/hooks/github,2019-05-01T10:${minute}:00Z\n`
    if (batch.length > 1 << 16) {
      if (!out.write(batch)) await once(out, 'drain')
      batch = ''
    }
  }
  out.end(batch)
  await once(out, 'finish')
}
