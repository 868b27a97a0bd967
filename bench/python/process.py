#!/usr/bin/env python3
"""Python's multiprocessing.Process start + join of a function that returns at once.

Seconds per start+join under the fork, the spawn and the forkserver start methods.
"""
import multiprocessing as mp
import time

import _common


def nothing() -> None:
    pass


def start_join(ctx, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        process = ctx.Process(target=nothing)
        process.start()
        process.join()
    return (time.perf_counter() - start) / count


def main() -> None:
    args = _common.parse_args(__doc__)
    figures = {}
    for method, count in (("fork", 50), ("spawn", 4), ("forkserver", 20)):
        ctx = mp.get_context(method)
        start_join(ctx, 1)  # warm-up: imports, the resource tracker, the forkserver
        figures[f"process_{method}_s"] = _common.median_of(lambda: start_join(ctx, count),
                                                           args.repetitions)
    _common.emit(figures)


if __name__ == "__main__":
    main()
