// Planning, coverage checks or the removal of old webhooks under way: their progress updated in
// place, and the page reloaded once one has ended. (Without JavaScript the page reloads itself every two seconds.)
'use strict'
;(() => {
  const status = document.querySelector('[data-progress]')
  const checks = [...document.querySelectorAll('[data-coverage-progress]')]
  const removals = [...document.querySelectorAll('[data-cleanup-progress]')]
  if (status === null && checks.length === 0 && removals.length === 0) return
  // A button pressed or a link followed while the work ends: the page it asked for is on its
  // way, and a reload now would cancel it (the press lost, and the person back where they were).
  let leaving = false
  addEventListener('submit', () => { leaving = true })
  addEventListener('beforeunload', () => { leaving = true })
  const reload = () => { if (!leaving) location.reload() }
  // Come back to by the Back button (the page kept as it was, its polling stopped): it is stale.
  addEventListener('pageshow', (event) => { if (event.persisted) location.reload() })
  const poll = async () => {
    if (leaving) return
    try {
      const response = await fetch('/migrate/progress', { headers: { accept: 'application/json' }, credentials: 'same-origin' })
      // Signed out meanwhile: the page itself says what to do.
      if (response.status === 401) return reload()
      if (response.ok) {
        const progress = await response.json()
        if (status !== null && !progress.underWay) return reload()
        if (status !== null) status.textContent = progress.text
        for (const check of checks) {
          const now = progress.coverage.find((c) => String(c.ownerId) === check.dataset.coverageProgress)
          // Ended: its result replaces it.
          if (now === undefined || !now.underWay) return reload()
          check.textContent = now.text
        }
        for (const removal of removals) {
          const now = progress.cleanup.find((c) => String(c.ownerId) === removal.dataset.cleanupProgress)
          if (now === undefined) return reload()
          removal.textContent = now.text
          // Every hook has its outcome: the page says what became of them.
          if (!now.underWay && removal.closest('[role="status"]') !== null) return reload()
        }
      }
    } catch {
      // The service did not answer this time: ask again.
    }
    setTimeout(poll, 1000)
  }
  setTimeout(poll, 1000)
})()
