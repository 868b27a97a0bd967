#!/usr/bin/env python3
"""Python's multiprocessing managers: proxy calls from a child process, and start-up.

manager_dict_set_get_per_s            calls per second of a child alternating d[k] = i and
                                      d.get(k) over 8 keys of Manager().dict()
manager_value_increment_lock_per_s    increments per second of a child doing
                                      `with lock: v.value += 1` (Manager().Lock(), .Value)
manager_start_spawn_s                 seconds from SyncManager(ctx=spawn).start() to the return
                                      of its first call (making a dict); shutdown not timed

The children are forked (the managers' server too, as mp::Manager() does by default); each
measures its own loop, after a warm-up that makes its connection.
"""
import multiprocessing as mp
import multiprocessing.managers
import time

import _common

KEYS = "abcdefgh"
CALLS = 4000
INCREMENTS = 1000


def set_get(d, n: int) -> None:
    for i in range(0, n, 2):
        key = KEYS[(i // 2) % len(KEYS)]
        d[key] = i
        assert d.get(key) == i


def dict_child(d, result) -> None:
    set_get(d, 2 * len(KEYS))  # the connection
    start = time.perf_counter()
    set_get(d, CALLS)
    result.value = CALLS / (time.perf_counter() - start)


def increment(value, lock, n: int) -> None:
    for _ in range(n):
        with lock:
            value.value += 1


def value_child(value, lock, result) -> None:
    increment(value, lock, 1)  # the connection
    start = time.perf_counter()
    increment(value, lock, INCREMENTS)
    result.value = INCREMENTS / (time.perf_counter() - start)


def in_child(ctx, target, *args) -> float:
    result = ctx.Value("d", 0.0)
    child = ctx.Process(target=target, args=(*args, result))
    child.start()
    child.join()
    assert child.exitcode == 0, child.exitcode
    return result.value


def start_spawn(spawn) -> float:
    start = time.perf_counter()
    manager = mp.managers.SyncManager(ctx=spawn)
    manager.start()
    manager.dict()
    elapsed = time.perf_counter() - start
    manager.shutdown()
    return elapsed


def main() -> None:
    args = _common.parse_args(__doc__)
    fork = mp.get_context("fork")
    spawn = mp.get_context("spawn")
    figures = {}
    with fork.Manager() as manager:
        d = manager.dict()
        figures["manager_dict_set_get_per_s"] = _common.median_of(
            lambda: in_child(fork, dict_child, d), args.repetitions)
        value, lock = manager.Value("q", 0), manager.Lock()
        figures["manager_value_increment_lock_per_s"] = _common.median_of(
            lambda: in_child(fork, value_child, value, lock), args.repetitions)
    start_spawn(spawn)  # warm-up: imports
    figures["manager_start_spawn_s"] = _common.median_of(lambda: start_spawn(spawn),
                                                         args.repetitions)
    _common.emit(figures)


if __name__ == "__main__":
    main()
