"""Python's side of bench/pool.ts: multiprocessing.Pool(2) map and apply_async.

Prints one JSON line: {"map": ops_per_s, "apply": ops_per_s}. Pool start-up is not timed.
Usage: python3 bench/pool-python.py MAP_ITEMS APPLY_TASKS
"""
import json
import sys
import time
from multiprocessing import Pool


def f(x):
    return x + 1


def main():
    map_n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    apply_n = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    with Pool(2) as p:
        for _ in range(3):  # warm up as troupe does: workers started, imports done
            p.map(f, range(map_n))
        [r.get() for r in [p.apply_async(f, (i,)) for i in range(apply_n // 4)]]
        times = []
        for _ in range(5):  # median of five, as troupe's side
            t0 = time.perf_counter()
            out = p.map(f, range(map_n))
            times.append(time.perf_counter() - t0)
            assert len(out) == map_n
        t_map = sorted(times)[2]
        t0 = time.perf_counter()
        rs = [p.apply_async(f, (i,)) for i in range(apply_n)]
        vals = [r.get() for r in rs]
        t_apply = time.perf_counter() - t0
        assert len(vals) == apply_n
    print(json.dumps({"map": map_n / t_map, "apply": apply_n / t_apply}))


if __name__ == "__main__":
    main()
