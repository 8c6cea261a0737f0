# Seed 004's task worker (runs on Python 2.7 and 3.x): take numbers from the task queue,
# put back ('n * n = n*n', 0).
#   python2.7 taskworker.py [127.0.0.1:5000] [count]
from __future__ import print_function
import sys, time
from multiprocessing.managers import BaseManager
try:
    import queue
except ImportError:
    import Queue as queue


class QueueManager(BaseManager):
    pass


QueueManager.register('get_task_queue')
QueueManager.register('get_result_queue')

server_addr, port = (sys.argv[1] if len(sys.argv) > 1 else '127.0.0.1:5000').rsplit(':', 1)
count = int(sys.argv[2]) if len(sys.argv) > 2 else 10
print('Connect to server %s...' % server_addr)
m = QueueManager(address=(server_addr, int(port)), authkey=b'abc')
m.connect()
task = m.get_task_queue()
result = m.get_result_queue()
done = 0
while done < count:
    try:
        n = task.get(timeout=10)
        print('run task %d * %d...' % (n, n))
        r = '%d * %d = %d' % (n, n, n * n)
        result.put((r, 0))
        done += 1
    except queue.Empty:
        print('task queue is empty.')
        break
print('worker exit.')
