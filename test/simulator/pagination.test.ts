import t from 'tap'
import { pageOf } from '../../src/simulator/pagination.js'
import { clientFor, demoWorld, startSimulator } from '../helpers/simulator.js'

t.test('per_page defaults to 30 and stops at 100; page starts at 1', async (t) => {
  t.same(pageOf({}), { page: 1, perPage: 30 })
  t.same(pageOf({ per_page: '100', page: '3' }), { page: 3, perPage: 100 })
  t.same(pageOf({ per_page: '1000' }), { page: 1, perPage: 100 })
  t.same(pageOf({ per_page: '0', page: '0' }), { page: 1, perPage: 30 })
  t.same(pageOf({ per_page: 'ten', page: '-2' }), { page: 1, perPage: 30 })
})

t.test('Link headers in GitHub format: prev, next, last, first, absolute', async (t) => {
  const world = demoWorld()
  for (let i = 0; i < 25; i++) world.repos.push({ id: 40000 + i, owner: 'octo', name: `p${String(i).padStart(2, '0')}` })
  const sim = await startSimulator(t, world)
  const octo = clientFor(sim.apiUrl, 'gho_legacy_octo_0003')
  const link = async (query: Record<string, unknown>) => {
    const res = await octo.request('GET /user/repos', { affiliation: 'owner', ...query })
    return { link: res.headers.link, names: res.data.map((r) => r.name) }
  }
  const url = (page: number) => `${sim.apiUrl}/user/repos?affiliation=owner&per_page=10&page=${page}`
  const middle = await link({ per_page: 10, page: 2 })
  t.equal(middle.link, `<${url(1)}>; rel="prev", <${url(3)}>; rel="next", <${url(3)}>; rel="last", <${url(1)}>; rel="first"`)
  t.same(middle.names, ['p10', 'p11', 'p12', 'p13', 'p14', 'p15', 'p16', 'p17', 'p18', 'p19'])
  const last = await link({ per_page: 10, page: 3 })
  t.equal(last.link, `<${url(2)}>; rel="prev", <${url(1)}>; rel="first"`)
  t.equal(last.names.length, 5)
  const beyond = await link({ per_page: 10, page: 9 })
  t.same(beyond.names, [])
  t.equal(beyond.link, `<${url(3)}>; rel="prev", <${url(1)}>; rel="first"`, 'past the end: back to the last page')
  const single = await link({ per_page: 100 })
  t.equal(single.link, undefined, 'one page: no Link header')
})
