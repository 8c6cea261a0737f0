# A CPython BaseManager client against a troupe manager (argv: host port authkey [mode]; port '-' = host is a Unix socket path).
# Modes: must-show (default) | worker N | badkey | forbidden MARKER
from __future__ import print_function
import sys, os, pickle
from multiprocessing.managers import BaseManager
from multiprocessing.connection import Client
try:
    import queue
except ImportError:
    import Queue as queue
from compare import same

host, port, key = sys.argv[1], sys.argv[2], sys.argv[3].encode('ascii')
# A port of '-' means host is a Unix socket path.
ADDRESS = host if port == '-' else (host, int(port))
mode = sys.argv[4] if len(sys.argv) > 4 else 'must-show'


class M(BaseManager):
    pass


M.register('get_queue')
M.register('get_joinable')
M.register('get_tasks')
M.register('get_results')
M.register('get_back')

VALUE = (1, 'a', None, 2.5, b'x', [1, 2], {'k': True}, 2 ** 70, -1, set([1, 2]), u'\u00e9\u2603\U0001F600')


def check(cond, what):
    if not cond:
        print('FAILED: ' + what, file=sys.stderr)
        sys.exit(1)


def must_show():
    m = M(address=ADDRESS, authkey=key)
    m.connect()
    q = m.get_queue()
    q.put(VALUE)
    check(q.qsize() == 1, 'qsize after put is %r' % q.qsize())
    got = q.get()
    err = same(VALUE, got)
    check(err is None, 'value came back different: %s' % err)
    check(q.qsize() == 0, 'qsize after get')
    try:
        q.get(timeout=0.2)
        check(False, 'get(timeout) on an empty queue returned')
    except queue.Empty:
        pass
    try:
        q.get(False)
        check(False, 'get(False) on an empty queue returned')
    except queue.Empty:
        pass
    try:
        q.get_nowait()
        check(False, 'get_nowait on an empty queue returned')
    except queue.Empty:
        pass
    big = b'\x00\xff' * (3 << 19)  # 3 MiB: multi-chunk frames, BINBYTES / BINSTRING with a 4-byte length
    q.put(big)
    check(q.get() == big, 'a 3 MiB bytes value came back different')
    q.put_nowait(u'after')
    check(q.get(True, 1.0) == u'after', 'put_nowait/get(True, 1.0)')
    jq = m.get_joinable()
    for i in range(3):
        jq.put(i)
    seen = []
    for i in range(3):
        seen.append(jq.get())
        jq.task_done()
    jq.join()
    check(seen == [0, 1, 2], 'joinable items %r' % seen)
    check(m._number_of_objects() >= 2, 'number_of_objects')
    check(hasattr(m._debug_info(), 'split'), 'debug_info is text')
    try:
        jq.task_done()
        check(False, 'extra task_done did not raise')
    except ValueError:
        pass
    print('ok')


def worker(name):
    # Drain the task queue until the None sentinel, reporting (worker, task) pairs.
    m = M(address=ADDRESS, authkey=key)
    m.connect()
    tasks, results = m.get_tasks(), m.get_results()
    n = 0
    while True:
        t = tasks.get(timeout=20)
        if t is None:
            tasks.task_done()
            break
        results.put((name, t))
        tasks.task_done()
        n += 1
    print('done %d' % n)


def exchange():
    # Hand VALUE to a troupe client, then check what it sends back.
    m = M(address=ADDRESS, authkey=key)
    m.connect()
    m.get_queue().put(VALUE)
    got = m.get_back().get(timeout=20)
    err = same((u'hello', 1, 2.0, [1], {u'k': None}, {u'plain': u'object'}), got)
    check(err is None, 'troupe value differs: %s' % err)
    print('ok')


def sync():
    # Python's SyncManager against a troupe Manager: its typeids and proxy types.
    from multiprocessing.managers import SyncManager
    m = SyncManager(address=ADDRESS, authkey=key)
    m.connect()
    q = m.Queue()
    q.put((1, u'x'))
    check(q.get(timeout=5) == (1, u'x'), 'Queue')
    jq = m.JoinableQueue()
    jq.put(1)
    jq.get()
    jq.task_done()
    jq.join()
    e = m.Event()
    check(not e.is_set(), 'Event starts clear')
    check(e.wait(0.05) is False, 'Event.wait times out with False')
    e.set()
    check(e.is_set() and e.wait(1), 'Event set')
    lock = m.Lock()
    check(lock.acquire() is True, 'Lock.acquire')
    check(lock.acquire(False) is False, 'Lock.acquire(False) on a held lock')
    lock.release()
    with lock:
        pass
    d = m.dict()
    d[u'a'] = 1
    check(d[u'a'] == 1 and len(d) == 1 and u'a' in d and d.get(u'a') == 1, 'dict')
    print('ok')


def badkey():
    from multiprocessing import AuthenticationError
    m = M(address=ADDRESS, authkey=key)
    try:
        m.connect()
    except AuthenticationError as e:
        print('AuthenticationError: %s' % e)
        return
    check(False, 'connect with a wrong key succeeded')


def forbidden(marker):
    # A value whose unpickling runs os.system: troupe relays it as an opaque value and runs nothing.
    class Evil(object):
        def __reduce__(self):
            return (os.system, ('touch ' + marker,))
    m = M(address=ADDRESS, authkey=key)
    m.connect()
    q = m.get_queue()
    q.put(Evil())
    check(not os.path.exists(marker), 'the troupe manager ran os.system')
    # A function reference travels as a reference: the same function comes back, nobody called it.
    q2 = m.get_back()
    q2.put(os.system)
    check(q2.get(timeout=5) is os.system, 'os.system did not come back as itself')
    q2.put(u'still serving')
    check(q2.get(timeout=5) == u'still serving', 'server stopped serving')
    print('ok')


{'must-show': must_show, 'exchange': exchange, 'sync': sync, 'badkey': badkey, 'forbidden': lambda: forbidden(sys.argv[5]),
 'worker': lambda: worker(sys.argv[5] if len(sys.argv) > 5 else 'py')}[mode]()
