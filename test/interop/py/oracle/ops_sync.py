# SyncManager Event, Lock, RLock, Semaphore, BoundedSemaphore, Condition, Barrier.
from __future__ import print_function
import harness

EVENT = r'''
e = m.Event()
e.is_set()
e.wait(0)
e.wait(0.05)
e.wait(-1)
e.wait(timeout=0.01)
e.set()
e.is_set()
e.wait()
e.wait(0)
e.wait(-1)
e.set()
e.clear()
e.is_set()
e.clear()
e._callmethod('wait', ('x',))
e._callmethod('wait', (1, 2))
e._callmethod('set', (1,))
e._callmethod('isSet')
e._callmethod('is_set', (), {'x': 1})
str(e)[:30]
m.Event(1)
'''

LOCK = r'''
l = m.Lock()
l.acquire()
l.acquire(False)
l.acquire(True, 0.05)
py3: l.acquire(timeout=0.05)
py3: l.acquire(False, 1)
py3: l.acquire(True, -2)
py3: l.acquire(timeout=0)
l.release()
l.release()
l.acquire(0)
l.acquire(0)
l.release()
with l: l.acquire(False)
l.acquire(False)
l.release()
l._callmethod('release', (1,))
l._callmethod('acquire', (True, 0.05, 3))
l._callmethod('acquire', (), {'blocking': False})
l._callmethod('release')
py3: l._callmethod('acquire', (), {'timeout': 'x'})
py3: l._callmethod('acquire', ('x',))
l._callmethod('locked')
m.Lock(1)
'''

RLOCK = r'''
r = m.RLock()
r.acquire()
r.acquire()
r.acquire(False)
r.release()
r.release()
r.release()
r.release()
py3: r.acquire(timeout=0.05)
py3: r.acquire(False, 1)
py3: r.acquire(True, -2)
py3: r.release()
with r: r.acquire(False)
r.release()
r._callmethod('release', (1,))
m.RLock(1)
'''

SEMAPHORE = r'''
s = m.Semaphore(2)
s.acquire()
s.acquire()
s.acquire(False)
s.acquire(True, 0.05)
py3: s.acquire(timeout=0.05)
s.release()
s.release()
s.release()
s.acquire(); s.acquire(); s.acquire()
s.acquire(False)
py3: s._callmethod('release', (2,))
py3: s._callmethod('release', (0,))
s._callmethod('release', (-1,))
s._callmethod('release', ('x',))
s.acquire(False)
py3: s.acquire(False, 1)
py3: s.acquire(True, -1)
m.Semaphore(-1)
m.Semaphore(0).acquire(False)
m.Semaphore().acquire(False)
m.Semaphore(value=3).acquire(False)
'''

BOUNDED = r'''
b = m.BoundedSemaphore(2)
b.release()
b.acquire()
b.release()
b.release()
b.acquire(); b.acquire()
b.acquire(False)
py3: b._callmethod('release', (2,))
py3: b._callmethod('release', (3,))
b.release()
b.acquire(False)
m.BoundedSemaphore().release()
m.BoundedSemaphore(-2)
'''

CONDITION = r'''
c = m.Condition()
c.notify()
c.notify_all()
c.wait(0.01)
c.release()
c.acquire()
c.acquire()
c.wait(0.05)
c.wait(0)
c.notify()
c.notify(2)
c.notify_all()
c._callmethod('notify', (-1,))
c._callmethod('notify', ('x',))
c._callmethod('wait', ('x',))
c._callmethod('wait', (-1,))
c.release()
c.release()
c.release()
c.acquire(False)
c.release()
py3: c.acquire(True, 0.05)
py3: c.release()
with c: c.wait(0.01)
c._callmethod('notifyAll')
m.Condition(1)
'''

BARRIER = r'''
b = m.Barrier(2)
b.parties
b.n_waiting
b.broken
b.wait(0.05)
b.broken
b.wait()
b.reset()
b.broken
b.n_waiting
b.abort()
b.broken
b.wait(1)
b.reset()
b._callmethod('__getattribute__', ('_parties',))
b._callmethod('__getattribute__', ('nope',))
b._callmethod('__getattribute__', ('wait',))
b._callmethod('wait', ('x',))
b._callmethod('wait', (-1,))
b.broken
b.reset()
b1 = m.Barrier(1)
b1.wait()
b1.wait(0.05)
b1.wait(timeout=None)
b1.parties
m.Barrier()
m.Barrier(2, None, 0.05).wait()
m.Barrier(3, timeout=0.05).wait(None)
m.Barrier(2, timeout=-1).wait()
m.Barrier(1, timeout=0.05).wait()
'''

SECTIONS = [('Event', EVENT, {}), ('Lock', LOCK, {}), ('RLock', RLOCK, {}), ('Semaphore', SEMAPHORE, {}),
            ('BoundedSemaphore', BOUNDED, {}), ('Condition', CONDITION, {})]
if not harness.PY2:
    SECTIONS.append(('Barrier', BARRIER, {}))

if __name__ == '__main__':
    harness.main(SECTIONS)
