#!/usr/bin/env python3
"""Python's multiprocessing.Pipe between two processes (fork): 64 KiB throughput, ping-pong.

Throughput: the parent sends 64 KiB messages with send_bytes, the child receives them and
acknowledges the empty message that ends the stream. Ping-pong: an 8-byte message sent and
echoed back, seconds per round trip.
"""
import multiprocessing as mp
import time

import _common

BULK = 64 * 1024


def sink(conn) -> None:
    while conn.recv_bytes():
        pass
    conn.send_bytes(b"k")


def echo(conn) -> None:
    while True:
        message = conn.recv_bytes()
        if not message:
            return
        conn.send_bytes(message)


def with_child(ctx, target, run):
    parent, child = ctx.Pipe()
    process = ctx.Process(target=target, args=(child,))
    process.start()
    child.close()
    try:
        return run(parent)
    finally:
        process.join()


def throughput(ctx, min_time: float) -> float:
    payload = b"x" * BULK

    def run(conn) -> float:
        count = 0
        start = time.perf_counter()
        while time.perf_counter() - start < min_time:
            for _ in range(64):
                conn.send_bytes(payload)
            count += 64
        conn.send_bytes(b"")
        conn.recv_bytes()
        return count * BULK / (time.perf_counter() - start)

    return with_child(ctx, sink, run)


def ping_pong(ctx, min_time: float) -> float:
    message = b"01234567"

    def run(conn) -> float:
        def body(n: int) -> None:
            for _ in range(n):
                conn.send_bytes(message)
                conn.recv_bytes()

        seconds = _common.timed_loop(body, min_time)
        conn.send_bytes(b"")
        return seconds

    return with_child(ctx, echo, run)


def main() -> None:
    args = _common.parse_args(__doc__)
    ctx = mp.get_context("fork")
    _common.emit({
        "pipe_64k_bytes_per_s": _common.median_of(lambda: throughput(ctx, args.min_time),
                                                  args.repetitions),
        "pipe_pingpong_s": _common.median_of(lambda: ping_pong(ctx, args.min_time),
                                             args.repetitions),
    })


if __name__ == "__main__":
    main()
