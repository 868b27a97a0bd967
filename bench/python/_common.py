"""What the reference scripts share: repeated measurement, medians, JSON output.

Every script prints one JSON object on stdout: figure key -> median value in SI units, the
unit named by the key's suffix (_s: seconds per operation, _per_s: operations per second,
_bytes_per_s: bytes per second), plus "python" (the interpreter's version).
"""
import argparse
import json
import platform
import statistics
import time


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--repetitions", type=int, default=5,
                        help="how many times each figure is measured; the median is printed")
    parser.add_argument("--min-time", type=float, default=0.2,
                        help="seconds each measurement runs at least (where it can choose)")
    return parser.parse_args()


def timed_loop(body, min_time: float) -> float:
    """Seconds per call of body(n) / n, growing n until one call takes min_time."""
    n = 1
    while True:
        start = time.perf_counter()
        body(n)
        elapsed = time.perf_counter() - start
        if elapsed >= min_time or n >= 1 << 30:
            return elapsed / n
        n = max(n * 2, int(n * min_time * 1.2 / max(elapsed, 1e-9)))


def median_of(measure, repetitions: int) -> float:
    return statistics.median(measure() for _ in range(repetitions))


def emit(figures: dict) -> None:
    figures = dict(figures)
    figures["python"] = platform.python_version()
    print(json.dumps(figures))
