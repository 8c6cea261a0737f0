# Seed 004's task manager, as a Python 3 producer of a troupe-served task queue.
#   troupe manager --address 127.0.0.1:5000 --authkey abc --queue get_task_queue --queue get_result_queue
#   python3 taskmanager.py [127.0.0.1:5000] [count]
# It puts numbers, then checks each result a worker sends back: ('n * n = n*n', 0), the text a str.
import random, sys
from multiprocessing.managers import BaseManager


class QueueManager(BaseManager):
    pass


QueueManager.register('get_task_queue')
QueueManager.register('get_result_queue')

host, port = (sys.argv[1] if len(sys.argv) > 1 else '127.0.0.1:5000').rsplit(':', 1)
count = int(sys.argv[2]) if len(sys.argv) > 2 else 10
manager = QueueManager(address=(host, int(port)), authkey=b'abc')
manager.connect()
task = manager.get_task_queue()
result = manager.get_result_queue()
expected = {}
for i in range(count):
    n = random.randint(0, 10000)
    print('Put task %d...' % n)
    task.put(n)
    expected['%d * %d = %d' % (n, n, n * n)] = expected.get('%d * %d = %d' % (n, n, n * n), 0) + 1
print('Try get results...')
for i in range(count):
    r = result.get(timeout=30)
    print('Result: %s' % (r,))
    text, code = r
    if type(text) is not str or code != 0 or not expected.get(text):
        print('unexpected result %r (text is %s)' % (r, type(text).__name__))
        sys.exit(1)
    expected[text] -= 1
print('master exit.')
