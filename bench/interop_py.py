"""CPython side of bench/interop.ts (python 3.11 by default).

  client HOST PORT KEY N  -> JSON {putget: items/s, rpc: calls/s}: one BaseManager client, sequential calls
  server KEY              -> prints "ready PORT", serves get_queue until killed
  conns HOST PORT KEY N   -> JSON {conns: per second}: new control connections (dummy)
  codec N                 -> JSON {dumps: ops/s, loads: ops/s} for the request tuple troupe encodes
"""
import json
import pickle
import queue
import sys
import time
from multiprocessing.managers import BaseManager


class M(BaseManager):
    pass


def client(host, port, key, n):
    M.register('get_queue')
    m = M(address=(host, int(port)), authkey=key.encode())
    m.connect()
    q = m.get_queue()
    q.put(0)
    q.get()  # the method-call connection is open before timing
    t0 = time.perf_counter()
    for i in range(n):
        q.put(i)
    for i in range(n):
        q.get()
    putget = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(n):
        q.qsize()
    rpc = n / (time.perf_counter() - t0)
    print(json.dumps({'putget': putget, 'rpc': rpc}))


def conns(host, port, key, n):
    # New control connections: TCP connect + 6-frame handshake + dummy + close (reference section 1.2: ~44 ms each).
    from multiprocessing.connection import Client
    from multiprocessing.managers import dispatch
    t0 = time.perf_counter()
    for _ in range(n):
        c = Client((host, int(port)), authkey=key.encode())
        dispatch(c, None, 'dummy')
        c.close()
    print(json.dumps({'conns': n / (time.perf_counter() - t0)}))


def server(key):
    q = queue.Queue()
    M.register('get_queue', callable=lambda: q)
    s = M(address=('127.0.0.1', 0), authkey=key.encode()).get_server()
    print('ready %d' % s.address[1], flush=True)
    s.serve_forever()


REQUEST = ('7f4385bb4750', 'put', ((1, 'a', None, 2.5, b'x', [1, 2], {'k': True}, 2 ** 70, -1, {1, 2}, 'é☃😀'),), {})


def codec(n):
    t0 = time.perf_counter()
    for _ in range(n):
        b = pickle.dumps(REQUEST, 4)
    dumps = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(n):
        pickle.loads(b)
    loads = n / (time.perf_counter() - t0)
    print(json.dumps({'dumps': dumps, 'loads': loads}))


if __name__ == '__main__':
    mode = sys.argv[1]
    if mode == 'client':
        client(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif mode == 'conns':
        conns(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif mode == 'server':
        server(sys.argv[2])
    else:
        codec(int(sys.argv[2]))
