import t from 'tap'
import { quieter } from '../src/logger.js'

t.test("a busy route's level: its own, unless the service logs less", async (t) => {
  t.equal(quieter('warn', 'info'), 'warn')
  t.equal(quieter('warn', 'debug'), 'warn')
  t.equal(quieter('warn', 'warn'), 'warn')
  t.equal(quieter('warn', 'error'), 'error')
  t.equal(quieter('warn', 'fatal'), 'fatal')
  t.equal(quieter('warn', 'silent'), 'silent')
})
