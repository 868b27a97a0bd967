#!/usr/bin/env python3
"""Python's multiprocessing.Pool: map throughput and start-up.

pool_map_chunksize1_per_s   tasks per second of Pool(2).map over 100,000 ints, chunksize 1
pool_map_default_per_s      the same with the default chunksize
pool_start_spawn_s          seconds from Pool(2) under spawn to the first result of apply
"""
import multiprocessing as mp
import time

import _common

TASKS = 100_000


def identity(x: int) -> int:
    return x


def map_rate(pool, chunksize) -> float:
    items = range(TASKS)
    start = time.perf_counter()
    if chunksize is None:
        pool.map(identity, items)
    else:
        pool.map(identity, items, chunksize)
    return TASKS / (time.perf_counter() - start)


def start_spawn() -> float:
    ctx = mp.get_context("spawn")
    start = time.perf_counter()
    pool = ctx.Pool(2)
    pool.apply(identity, (1,))
    elapsed = time.perf_counter() - start
    pool.terminate()
    pool.join()
    return elapsed


def main() -> None:
    args = _common.parse_args(__doc__)
    figures = {}
    with mp.get_context("fork").Pool(2) as pool:
        map_rate(pool, 1)  # warm-up
        figures["pool_map_chunksize1_per_s"] = _common.median_of(lambda: map_rate(pool, 1),
                                                                 args.repetitions)
        figures["pool_map_default_per_s"] = _common.median_of(lambda: map_rate(pool, None),
                                                              args.repetitions)
    start_spawn()  # warm-up: imports, the resource tracker
    figures["pool_start_spawn_s"] = _common.median_of(start_spawn, args.repetitions)
    _common.emit(figures)


if __name__ == "__main__":
    main()
