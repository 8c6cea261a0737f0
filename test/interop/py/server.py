# A CPython BaseManager server for troupe clients (argv: authkey [port] [sync]); prints "ready PORT", serves until killed.
# With 'sync' it is a SyncManager (Queue, Event, Lock, dict, ...).
# It serves get_tasks / get_results (queue.Queue), get_joinable (JoinableQueue-like queue.Queue) and get_box (Box).
from __future__ import print_function
import sys
from multiprocessing.managers import BaseManager
try:
    import queue
except ImportError:
    import Queue as queue

key = sys.argv[1].encode('ascii')
port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
tasks, results, joinable = queue.Queue(), queue.Queue(), queue.Queue()


class Box(object):
    def __init__(self):
        self.v = None

    def set(self, v):
        self.v = v

    def get(self):
        return self.v

    def kind(self):
        return type(self.v).__name__

    def child(self):
        return Box()

    def fail(self):
        raise KeyError('missing')


class M(BaseManager):
    pass


M.register('get_tasks', callable=lambda: tasks)
M.register('get_results', callable=lambda: results)
M.register('get_joinable', callable=lambda: joinable)
M.register('Box', callable=Box, method_to_typeid={'child': 'Child'})
M.register('Child', callable=None, create_method=False)
if len(sys.argv) > 3 and sys.argv[3] == 'sync':
    # multiprocessing's SyncManager: Queue, Event, Lock, dict, ... typeids.
    from multiprocessing.managers import SyncManager as M
m = M(address=('127.0.0.1', port), authkey=key)
s = m.get_server()
print('ready %d' % s.address[1])
sys.stdout.flush()
s.serve_forever()
