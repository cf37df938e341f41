// Planning under way: its progress updated in place, and the page reloaded once it has ended.
// (Without JavaScript the page reloads itself every two seconds instead.)
'use strict'
;(() => {
  const status = document.querySelector('[data-progress]')
  if (status === null) return
  const poll = async () => {
    try {
      const response = await fetch('/migrate/progress', { headers: { accept: 'application/json' }, credentials: 'same-origin' })
      // Signed out meanwhile: the page itself says what to do.
      if (response.status === 401) return location.reload()
      if (response.ok) {
        const progress = await response.json()
        if (!progress.underWay) return location.reload()
        status.textContent = progress.text
      }
    } catch {
      // The service did not answer this time: ask again.
    }
    setTimeout(poll, 1000)
  }
  setTimeout(poll, 1000)
})()
