"""Python's side of bench/pool.ts: multiprocessing.Pool(2) map or apply_async.

Usage: python3 bench/pool-python.py map|apply N  -> prints {"ops": ops_per_s}.
Pool start-up is not timed; both modes warm up first, as troupe's side does.
"""
import json
import sys
import time
from multiprocessing import Pool


def f(x):
    return x + 1


def main():
    mode = sys.argv[1]
    n = int(sys.argv[2])
    with Pool(2) as p:
        for _ in range(3):  # warm up as troupe does: workers started, imports done
            p.map(f, range(n))
        [r.get() for r in [p.apply_async(f, (i,)) for i in range(n // 4)]]
        if mode == 'map':
            times = []
            for _ in range(5):  # median of five, as troupe's side
                t0 = time.perf_counter()
                out = p.map(f, range(n))
                times.append(time.perf_counter() - t0)
                assert len(out) == n
            secs = sorted(times)[2]
        else:
            t0 = time.perf_counter()
            vals = [r.get() for r in [p.apply_async(f, (i,)) for i in range(n)]]
            secs = time.perf_counter() - t0
            assert len(vals) == n
    print(json.dumps({"ops": n / secs}))


if __name__ == "__main__":
    main()
