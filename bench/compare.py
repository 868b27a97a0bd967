#!/usr/bin/env python3
"""./run bench: our benchmarks, the raw OS baselines and Python's multiprocessing, side by side.

Usage: compare.py BUILD_DIR [--repetitions N] [--min-time S] [--only REGEX] [--strict]

Runs the Google Benchmark binaries of BUILD_DIR/bin (JSON output) and the scripts of bench/python
in rounds, each round running every one of them once, so that ours and the references are
measured side by side; takes the median over rounds; then prints one line per figure of
bench/figures.toml:

    figure  ours  reference  ratio  target  ok|short|info|missing

ratio = ours / reference. A figure whose benchmark is not built yet prints `missing`. The table
is also written as BUILD_DIR/bench/figures.json, with a chart, BUILD_DIR/bench/figures.svg.
"""
import argparse
import json
import math
import os
import pathlib
import re
import statistics
import subprocess
import sys
import time
import tomllib
from dataclasses import asdict, dataclass
from typing import Optional

BENCH_DIR = pathlib.Path(__file__).resolve().parent
FIGURES = BENCH_DIR / "figures.toml"
PYTHON_DIR = BENCH_DIR / "python"
DEFAULT_BINARY = "ipcheck_bench"

# Display unit -> size in SI units, and whether it is a time per operation (else a rate).
UNITS = {
    "ns": (1e-9, True), "us": (1e-6, True), "ms": (1e-3, True), "s": (1.0, True),
    "ops/s": (1.0, False), "Mops/s": (1e6, False), "GB/s": (1e9, False),
}
TIME_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


@dataclass
class Row:
    name: str
    unit: str
    ours: Optional[float]        # SI units
    reference: Optional[float]   # SI units
    ratio: Optional[float]
    target: str                  # "<= 1.5", ">= 0.8" or "" (informational)
    status: str                  # ok, short, info, missing
    issue: Optional[int]


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Sources of values

def bench_key(source: dict) -> tuple[str, str]:
    return source.get("binary", DEFAULT_BINARY), source["bench"]


def run_benchmarks(build: pathlib.Path, binary: str, names: set[str], args,
                   raw_file: pathlib.Path) -> dict[str, dict]:
    """Runs the named benchmarks of one binary once each; returns run name -> its record."""
    exe = build / "bin" / binary
    if not exe.exists():
        log(f"{exe} is not built")
        return {}
    pattern = "^(" + "|".join(sorted(re.escape(n) for n in names)) + ")(/.*)?$"
    command = [str(exe), f"--benchmark_filter={pattern}", "--benchmark_format=json",
               f"--benchmark_min_time={args.min_time}",
               # The benchmarks in random order, so that a slow spell of this shared machine
               # does not fall on the same side of a ratio in every round.
               "--benchmark_enable_random_interleaving=true"]
    proc = subprocess.run(command, capture_output=True, text=True)
    raw_file.write_text(proc.stdout)
    if proc.returncode != 0 and not proc.stdout.strip():
        log(f"{binary} failed (exit {proc.returncode}): {proc.stderr.strip()[-400:]}")
        return {}
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        log(f"{binary}: unreadable JSON output; stderr: {proc.stderr.strip()[-400:]}")
        return {}
    records = {}
    for record in report.get("benchmarks", []):
        if record.get("error_occurred"):
            log(f"{record['name']}: {record.get('error_message', 'error')}")
            continue
        records[re.sub(r"/(real|manual)_time$", "", record.get("run_name", record["name"]))] = record
    return records


def bench_value(record: Optional[dict], field: str) -> Optional[float]:
    if record is None or field not in record:
        return None
    if field in ("real_time", "cpu_time"):
        return record[field] * TIME_UNITS[record.get("time_unit", "ns")]
    return float(record[field])


def run_python(script: str, args, raw_file: pathlib.Path) -> dict:
    """Runs one reference script once; returns the figures it printed."""
    path = PYTHON_DIR / script
    command = [sys.executable, str(path), "--repetitions=1", f"--min-time={args.min_time}"]
    # Scripts that time our own binaries (checker_*.py) find them through the build.
    env = dict(os.environ, IPCHECK_BUILD_DIR=str(args.build_dir))
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    except subprocess.TimeoutExpired:
        log(f"{script} timed out")
        return {}
    raw_file.write_text(proc.stdout)
    if proc.returncode != 0:
        log(f"{script} failed (exit {proc.returncode}): {proc.stderr.strip()[-400:]}")
        return {}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def median(values: list[float]) -> Optional[float]:
    return statistics.median(values) if values else None


class Sources:
    """Every value the figures need, as the median over rounds. Each round runs every benchmark
    binary once and every Python script once, so that ours and the references are measured
    side by side, the machine's slow spells spread over both."""

    def __init__(self, build: pathlib.Path, figures: list[dict], args):
        raw_dir = build / "bench" / "raw"
        raw_dir.mkdir(parents=True, exist_ok=True)
        sources = [f[side] for f in figures for side in ("ours", "reference")]
        wanted: dict[str, set[str]] = {}
        for s in sources:
            if "bench" in s:
                binary, name = bench_key(s)
                wanted.setdefault(binary, set()).add(name)
        scripts = sorted({s["python"] for s in sources if "python" in s})
        # binary -> bench name -> one record per round; script -> one figures dict per round
        self.bench: dict[str, dict[str, list[dict]]] = {b: {} for b in wanted}
        self.python: dict[str, list[dict]] = {s: [] for s in scripts}
        for round_ in range(1, args.repetitions + 1):
            log(f"round {round_}/{args.repetitions}: {', '.join(sorted(wanted))} "
                f"({sum(map(len, wanted.values()))} benchmarks), python {', '.join(scripts)}")
            for binary, names in wanted.items():
                raw = raw_dir / f"{binary}.round{round_}.json"
                for name, record in run_benchmarks(build, binary, names, args, raw).items():
                    self.bench[binary].setdefault(name, []).append(record)
            for script in scripts:
                raw = raw_dir / f"python_{pathlib.Path(script).stem}.round{round_}.json"
                self.python[script].append(run_python(script, args, raw))

    def value(self, source: dict) -> Optional[float]:
        if "bench" in source:
            binary, name = bench_key(source)
            records = self.bench.get(binary, {}).get(name, [])
            values = [bench_value(r, source["field"]) for r in records]
            return median([v for v in values if v is not None])
        if "value" in source:
            return float(source["value"])
        if "python" in source:
            values = [r.get(source["key"]) for r in self.python.get(source["python"], [])]
            return median([float(v) for v in values if v is not None])
        if "constant" in source:
            return float(source["constant"])
        raise ValueError(f"unknown source {source}")


# ---------------------------------------------------------------------------------------------
# The table

def parse_target(target: str) -> tuple[str, float]:
    match = re.fullmatch(r"\s*(<=|>=)\s*([0-9.]+)\s*", target)
    if not match:
        raise ValueError(f"bad target {target!r}: expected '<= x' or '>= x'")
    return match.group(1), float(match.group(2))


def evaluate(figure: dict, sources: Sources) -> Row:
    ours, reference = sources.value(figure["ours"]), sources.value(figure["reference"])
    target = figure.get("target", "")
    ratio = ours / reference if ours is not None and reference else None
    if ratio is None:
        status = "missing"
    elif not target:
        status = "info"
    else:
        op, bound = parse_target(target)
        status = "ok" if (ratio <= bound if op == "<=" else ratio >= bound) else "short"
    return Row(figure["name"], figure["unit"], ours, reference, ratio, target, status,
               figure.get("issue"))


def headroom(row: Row) -> Optional[float]:
    """How far past its target a figure is: > 1 meets it, < 1 falls short."""
    if row.ratio is None or not row.target or row.ratio <= 0:
        return None
    op, bound = parse_target(row.target)
    return bound / row.ratio if op == "<=" else row.ratio / bound


def shown(value: Optional[float], unit: str) -> str:
    if value is None:
        return "-"
    scaled = value / UNITS[unit][0]
    digits = 3 if abs(scaled) < 10 else (1 if abs(scaled) < 1000 else 0)
    return f"{scaled:.{digits}f}{unit}"


def print_table(rows: list[Row]) -> None:
    width = max(len(r.name) for r in rows)
    print(f"{'figure':{width}}  {'ours':>12}  {'reference':>12}  {'ratio':>8}  {'target':>7}  status")
    for r in rows:
        ratio = f"{r.ratio:.3f}" if r.ratio is not None else "-"
        target = r.target.replace(" ", "") if r.target else "-"
        print(f"{r.name:{width}}  {shown(r.ours, r.unit):>12}  {shown(r.reference, r.unit):>12}"
              f"  {ratio:>8}  {target:>7}  {r.status}")
    counts = {s: sum(r.status == s for r in rows) for s in ("ok", "short", "info", "missing")}
    print(" ".join(f"{n} {s}" for s, n in counts.items() if n), flush=True)


# ---------------------------------------------------------------------------------------------
# The chart: one bar per figure, log scale, from the target line (1) to ratio/target (oriented
# so that right of the line meets the target); informational and missing rows are labelled.

def svg_chart(rows: list[Row], title: str) -> str:
    label_w, plot_w, value_w, row_h, top = 340, 460, 150, 26, 56
    lo, hi = 0.1, 10.0
    height = top + row_h * len(rows) + 40
    width = label_w + plot_w + value_w

    def x(v: float) -> float:
        v = min(max(v, lo), hi)
        return label_w + plot_w * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="20" font-size="15" font-weight="bold">{escape(title)}</text>',
           f'<text x="10" y="38" fill="#555">bar: how far past its target each figure is '
           f'(log scale; right of the line meets it)</text>']
    for tick in (0.1, 0.2, 0.5, 1, 2, 5, 10):
        tx = x(tick)
        out.append(f'<line x1="{tx:.1f}" y1="{top - 6}" x2="{tx:.1f}" '
                   f'y2="{height - 34}" stroke="{"#333" if tick == 1 else "#ddd"}"/>')
        out.append(f'<text x="{tx:.1f}" y="{height - 20}" text-anchor="middle" fill="#555">'
                   f'{tick:g}×</text>')
    for i, row in enumerate(rows):
        y = top + i * row_h
        out.append(f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end">{escape(row.name)}</text>')
        h = headroom(row)
        if h is not None:
            x0, x1 = sorted((x(1.0), x(h)))
            color = "#2e7d32" if row.status == "ok" else "#c62828"
            out.append(f'<rect x="{x0:.1f}" y="{y + 5}" width="{max(x1 - x0, 1):.1f}" '
                       f'height="{row_h - 10}" fill="{color}"/>')
            note = f"ratio {row.ratio:.3g}, target {row.target.replace(' ', '')}"
        elif row.ratio is not None:
            note = f"ratio {row.ratio:.3g} (no target)"
        else:
            note = "missing"
        out.append(f'<text x="{label_w + plot_w + 8}" y="{y + 17}" fill="#333">{escape(note)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build", nargs="?", default="build", help="the CMake build directory")
    parser.add_argument("--repetitions", type=int, default=5,
                        help="rounds, each running every benchmark and script once; the "
                             "medians over rounds are compared")
    parser.add_argument("--min-time", type=float, default=0.2,
                        help="seconds each repetition runs at least")
    parser.add_argument("--only", default="", help="a regex: only figures whose name matches")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when a figure with a target falls short")
    args = parser.parse_args()

    build = pathlib.Path(args.build).resolve()
    args.build_dir = build
    with FIGURES.open("rb") as f:
        figures = tomllib.load(f)["figure"]
    if args.only:
        figures = [f for f in figures if re.search(args.only, f["name"])]
    if not figures:
        log("no figures selected")
        return 1

    started = time.monotonic()
    sources = Sources(build, figures, args)
    rows = [evaluate(f, sources) for f in figures]
    print_table(rows)

    out_dir = build / "bench"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    (out_dir / "figures.json").write_text(json.dumps(
        {"generated": stamp, "repetitions": args.repetitions, "min_time_s": args.min_time,
         "values_in": "SI units (seconds per operation, operations or bytes per second)",
         "figures": [asdict(r) | {"headroom": headroom(r)} for r in rows]}, indent=2) + "\n")
    (out_dir / "figures.svg").write_text(svg_chart(rows, f"ipcheck ./run bench, {stamp}"))
    log(f"{time.monotonic() - started:.0f} s; table and chart in {out_dir}/figures.json, figures.svg")
    return 1 if args.strict and any(r.status == "short" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
