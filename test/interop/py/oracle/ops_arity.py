# Every method every SyncManager type exposes, called with too many arguments and with a bogus
# keyword: CPython raises TypeError in its server, and so must troupe (never a hang, never a
# traceback of its own). Then negative timeouts on every blocking method.
from __future__ import print_function
import harness
from multiprocessing import managers

QUEUE = ('empty', 'full', 'get', 'get_nowait', 'join', 'put', 'put_nowait', 'qsize', 'task_done')
TYPES = [
    ('q', 'm.Queue()', QUEUE), ('jq', 'm.JoinableQueue()', QUEUE), ('e', 'm.Event()', managers.EventProxy._exposed_),
    ('lk', 'm.Lock()', managers.AcquirerProxy._exposed_), ('rl', 'm.RLock()', managers.AcquirerProxy._exposed_),
    ('s', 'm.Semaphore()', managers.AcquirerProxy._exposed_), ('bs', 'm.BoundedSemaphore()', managers.AcquirerProxy._exposed_),
    ('c', 'm.Condition()', managers.ConditionProxy._exposed_), ('l', 'm.list([1])', managers.ListProxy._exposed_),
    ('d', 'm.dict({1: 2})', managers.DictProxy._exposed_), ('v', "m.Value('i', 1)", managers.ValueProxy._exposed_),
    ('a', "m.Array('i', [1])", managers.ArrayProxy._exposed_), ('ns', 'm.Namespace(x=1)', managers.NamespaceProxy._exposed_),
]
if not harness.PY2:
    TYPES.append(('b', 'm.Barrier(2)', managers.BarrierProxy._exposed_))

NEGATIVE = r'''
q2 = m.Queue(1)
q2.put(0)
q2.put(1, True, -5)
q2.get(True, -5)
m.Queue().get(True, -5)
m.Event().wait(-5)
py3: m.Lock().acquire(True, -5)
py3: m.Lock().acquire(timeout=-5)
py3: m.RLock().acquire(True, -5)
py3: m.Semaphore(0).acquire(True, -5)
py3: m.Barrier(2).wait(-5)
c2 = m.Condition()
c2.acquire()
c2.wait(-5)
c2.notify(-5)
c2.release()
'''


def ops():
    lines = [NEGATIVE]
    for name, make, exposed in TYPES:
        lines.append('%s = %s' % (name, make))
        for method in sorted(set(exposed)):
            lines.append("%s._callmethod(%r, tuple(range(20)))" % (name, method))
            lines.append("%s._callmethod(%r, (), {'bogus': 1})" % (name, method))
    return '\n'.join(lines)


SECTIONS = [('arity', ops(), {})]

if __name__ == '__main__':
    harness.main(SECTIONS)
