# Feed a manager's task queue and check what troupe workers put back (argv: host port authkey N [workers]).
from __future__ import print_function
import sys
from multiprocessing.managers import BaseManager
from compare import same

host, port, key, n = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode('ascii'), int(sys.argv[4])
workers = int(sys.argv[5]) if len(sys.argv) > 5 else 1


class M(BaseManager):
    pass


M.register('get_tasks')
M.register('get_results')
m = M(address=(host, port), authkey=key)
m.connect()
tasks, results = m.get_tasks(), m.get_results()
for i in range(n):
    tasks.put(i if i % 2 == 0 else (i, u'x'))
for _ in range(workers):
    tasks.put(None)
got = [results.get(timeout=60) for _ in range(n)]
expected = [u'n%d' % i if i % 2 == 0 else (u'pair', i, u'x') for i in range(n)]
key_of = lambda v: repr(v)
got_sorted, expected_sorted = sorted(got, key=key_of), sorted(expected, key=key_of)
err = same(expected_sorted, got_sorted)
if err:
    print('FAILED: ' + err, file=sys.stderr)
    sys.exit(1)
print('ok %d' % len(got))
