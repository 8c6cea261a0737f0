/**
 * Python argument errors on a troupe manager get CPython's exception classes
 * (issue 11 item 9): a negative timeout is ValueError, a call with the wrong
 * arity is TypeError and does nothing. The differential suite
 * (oracle.test.ts, section `arity`) walks every method of every type this way.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Manager, BaseManager, SharedQueue, connect } from '../../src/manager/index.ts'
import { runCode } from './python.ts'

let m: Manager
before(async () => {
  m = new Manager({ address: '127.0.0.1:0', authkey: 'abc', log: false })
  m.register('get_q', () => shared)
  // Exposed names of its own: served through the generic Python adapter, not SyncManager's Queue face.
  m.register('get_jobs', () => jobs, { exposed: ['get', 'put', 'qsize'] })
  await m.serve()
})
after(async () => { await m.shutdown() })
const shared = new SharedQueue()
const jobs = new SharedQueue()

async function py(code: string): Promise<string> {
  const [host, port] = m.address.split(':') as [string, string]
  const out = await runCode('3.12', `
from multiprocessing.managers import SyncManager
SyncManager.register('get_q')
m = SyncManager(address=('${host}', ${port}), authkey=b'abc'); m.connect()
def show(f):
    try: return repr(f())
    except Exception as e: return '%s: %s' % (type(e).__name__, e)
${code}`)
  assert.equal(out.code, 0, out.stderr)
  return out.stdout.trim()
}

test(`q.get(timeout=-1) raises ValueError "'timeout' must be a non-negative number" at once, as CPython does`, async () => {
  assert.equal(await py("q = m.Queue(); q.put(1); print(show(lambda: q.get(timeout=-1))); print(q.qsize())"), "ValueError: 'timeout' must be a non-negative number\n1")
})

test('a troupe queue served with its own exposed names: get(timeout=-1) and put(x, timeout=-1) raise ValueError at once and change nothing', async () => {
  const out = await py(`SyncManager.register('get_jobs'); j = m.get_jobs(); j.put(1)
print(show(lambda: j.get(timeout=-1)))
print(show(lambda: j.put(2, True, -0.5)))
print(j.qsize())
print(show(lambda: j.get(False, -1)))`)
  assert.equal(out, "ValueError: 'timeout' must be a non-negative number\nValueError: 'timeout' must be a non-negative number\n1\n1")
  assert.equal(jobs.qsize(), 0)
})

test("q._callmethod('put', (1, 2, 3, 4, 5, 6)) raises TypeError and queues nothing", async () => {
  assert.match(await py("q = m.get_q(); print(show(lambda: q._callmethod('put', (1, 2, 3, 4, 5, 6)))); print(q.qsize())"), /^TypeError: put\(\) takes from 1 to 3 positional arguments but 6 were given\n0$/)
  assert.equal(shared.qsize(), 0)
})

test('unknown keywords and missing arguments are TypeError; the manager keeps serving the client that sent them', async () => {
  const out = await py(`d = m.dict()
print(show(lambda: d._callmethod('__setitem__', (1,))))
print(show(lambda: d._callmethod('get', (), {'key': 1})))
print(show(lambda: m.Lock()._callmethod('acquire', (), {'bogus': True})))
d[1] = 2
print(d[1])`)
  const lines = out.split('\n')
  assert.match(lines[0]!, /^TypeError: __setitem__\(\) missing 1 required argument: 'value'/)
  assert.match(lines[1]!, /^TypeError: get\(\) got an unexpected keyword argument 'key'/)
  assert.match(lines[2]!, /^TypeError: acquire\(\) got an unexpected keyword argument 'bogus'/)
  assert.equal(lines[3], '2')
  // A troupe client still finds the server answering.
  const c = await connect({ address: m.address, authkey: 'abc' })
  assert.equal(typeof await c.numberOfObjects(), 'number')
  await c.shutdown()
})

test("a typeid registered with an explicit exposed list offers Python clients only those methods, as CPython's register(exposed=...) does", async () => {
  const q = new SharedQueue()
  const limited = new BaseManager({ address: '127.0.0.1:0', authkey: 'abc', log: false }).register('get_limited', () => q, { exposed: ['put', 'qsize'] })
  await limited.serve()
  try {
    const [host, port] = limited.address.split(':') as [string, string]
    const out = await runCode('3.12', `
from multiprocessing.managers import BaseManager
BaseManager.register('get_limited')
m = BaseManager(address=('${host}', ${port}), authkey=b'abc'); m.connect()
q = m.get_limited()
print(sorted(q._exposed_))
q.put(1)
print(q.qsize())
try:
    q._callmethod('get')
except Exception as e:
    print(type(e).__name__)`)
    assert.equal(out.stdout.trim(), "['put', 'qsize']\n1\nRemoteError", out.stderr)
  } finally {
    await limited.shutdown()
  }
})
