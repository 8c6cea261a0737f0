"""CPython side of bench/manager.ts: BaseManager over TCP, same shapes.

Usage: python3 bench/manager_py.py queue|joinable|rpc N  -> prints {"ops": ..., "p50": ...} (µs, rpc).
"""
import json
import queue
import sys
import time
from multiprocessing import Process, Event
from multiprocessing.managers import BaseManager

AUTHKEY = b'bench'
_q = queue.Queue()
_jq = queue.Queue()  # queue.Queue has task_done/join: it is Python's JoinableQueue behind SyncManager


class Box(object):
    def __init__(self):
        self.v = 0

    def get(self):
        return self.v


_box = Box()


def get_q():
    return _q


def get_jq():
    return _jq


def get_box():
    return _box


class M(BaseManager):
    pass


M.register('q', callable=get_q)
M.register('jq', callable=get_jq)
M.register('box', callable=get_box)


def client(address):
    m = M(address=address, authkey=AUTHKEY)
    m.connect()
    return m


def producer(address, name, n, go, joinable):
    q = getattr(client(address), name)()
    go.wait()
    for i in range(n):
        q.put(i)
    if joinable:
        q.join()


def consumer(address, name, n, go, joinable):
    q = getattr(client(address), name)()
    q.qsize()
    go.wait()
    for _ in range(n):
        q.get()
        if joinable:
            q.task_done()


def run_queue(address, name, n, joinable):
    go = Event()
    ps = [Process(target=producer, args=(address, name, n, go, joinable)),
          Process(target=consumer, args=(address, name, n, go, joinable))]
    for p in ps:
        p.start()
    time.sleep(1.0)  # both connected (each control connection costs ~44 ms over TCP)
    t0 = time.perf_counter()
    go.set()
    for p in ps:
        p.join()
    return n / (time.perf_counter() - t0)


def main():
    mode = sys.argv[1]
    n = int(sys.argv[2])
    m = M(address=('127.0.0.1', 0), authkey=AUTHKEY)
    m.start()
    address = m.address
    out = {}
    if mode == 'queue':
        out['ops'] = run_queue(address, 'q', n, False)
    elif mode == 'joinable':
        out['ops'] = run_queue(address, 'jq', n, True)
    else:
        box = m.box()
        for _ in range(500):
            box.get()
        lat = []
        t0 = time.perf_counter()
        for _ in range(n):
            a = time.perf_counter()
            box.get()
            lat.append((time.perf_counter() - a) * 1e6)
        out['ops'] = n / (time.perf_counter() - t0)
        lat.sort()
        out['p50'] = lat[len(lat) // 2]
        out['p99'] = lat[min(len(lat) - 1, len(lat) * 99 // 100)]
    m.shutdown()
    print(json.dumps(out))


if __name__ == '__main__':
    main()
