#!/usr/bin/env python3
"""Python's multiprocessing.Value incremented under its get_lock() by 2 processes (fork).

Each process does `with v.get_lock(): v.value += 1` a fixed number of times once both are
ready; the figure is the total increments over the span from the first start to the last end.
"""
import multiprocessing as mp
import time

import _common

INCREMENTS = 100000


def increment(value, barrier, spans, index: int) -> None:
    barrier.wait()
    start = time.perf_counter()
    for _ in range(INCREMENTS):
        with value.get_lock():
            value.value += 1
    spans[2 * index] = start
    spans[2 * index + 1] = time.perf_counter()


def measure(ctx) -> float:
    value = ctx.Value("q", 0)
    barrier = ctx.Barrier(2)
    spans = ctx.Array("d", 4)
    workers = [ctx.Process(target=increment, args=(value, barrier, spans, i)) for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert value.value == 2 * INCREMENTS, value.value
    return 2 * INCREMENTS / (max(spans[1], spans[3]) - min(spans[0], spans[2]))


def main() -> None:
    args = _common.parse_args(__doc__)
    ctx = mp.get_context("fork")
    _common.emit({"value_increment_2proc_per_s": _common.median_of(lambda: measure(ctx),
                                                                   args.repetitions)})


if __name__ == "__main__":
    main()
