#!/usr/bin/env python3
"""Python's multiprocessing.Lock, uncontended: acquire + release, seconds per pair."""
import multiprocessing as mp

import _common


def main() -> None:
    args = _common.parse_args(__doc__)
    lock = mp.Lock()

    def body(n: int) -> None:
        acquire, release = lock.acquire, lock.release
        for _ in range(n):
            acquire()
            release()

    _common.emit({"lock_uncontended_s": _common.median_of(
        lambda: _common.timed_loop(body, args.min_time), args.repetitions)})


if __name__ == "__main__":
    main()
