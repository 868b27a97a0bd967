#!/usr/bin/env python3
"""Python's multiprocessing.Queue between two processes (fork): small items, ping-pong.

Throughput: the parent puts integers, a child gets them until None; items per second from
the first put until the child has got the last. Ping-pong: an integer put on one queue and
echoed back on another, seconds per round trip.

(Named queues.py, after multiprocessing.queues: a script named queue.py would shadow the
standard library's queue module, which multiprocessing imports.)
"""
import multiprocessing as mp
import time

import _common


def drain(q) -> None:
    while q.get() is not None:
        pass


def echo(there, back) -> None:
    while True:
        item = there.get()
        back.put(item)
        if item is None:
            return


def throughput(ctx, min_time: float) -> float:
    q = ctx.Queue()
    process = ctx.Process(target=drain, args=(q,))
    process.start()
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < min_time:
        for i in range(1000):
            q.put(i)
        count += 1000
    q.put(None)
    process.join()
    return count / (time.perf_counter() - start)


def ping_pong(ctx, min_time: float) -> float:
    there, back = ctx.Queue(), ctx.Queue()
    process = ctx.Process(target=echo, args=(there, back))
    process.start()

    def body(n: int) -> None:
        for i in range(n):
            there.put(i)
            back.get()

    seconds = _common.timed_loop(body, min_time)
    there.put(None)
    back.get()
    process.join()
    return seconds


def main() -> None:
    args = _common.parse_args(__doc__)
    ctx = mp.get_context("fork")
    _common.emit({
        "queue_8b_per_s": _common.median_of(lambda: throughput(ctx, args.min_time),
                                            args.repetitions),
        "queue_pingpong_s": _common.median_of(lambda: ping_pong(ctx, args.min_time),
                                              args.repetitions),
    })


if __name__ == "__main__":
    main()
