#!/usr/bin/env python3
"""./run demo: shows what ipcheck does, on the bundled corpus, in a few minutes.

Usage: demo.py [BUILD_DIR] [--methods fork,spawn,forkserver,thread] [--timeout SECONDS]

Steps, each a function returning a Step (a title, lines to show, a one-line verdict):
  lint_corpus          the checker's findings on the corpus programs, grouped by check, and a
                       SARIF file (once the checker is built): buggy flagged, fixed clean
  run_corpus_programs  every corpus program: the fixed ones print their answers under each
                       start method, the buggy ones show their bug (a hang is stopped by a
                       timeout and counts as shown)
  run_property_tests   a short run of every property-test binary, and the timelines the
                       harness wrote for failing cases (the broken primitives' among them)
The summary at the end has one line per step. Exit status 1 when a fixed program gave a
wrong answer or a step failed.
"""
import argparse
import concurrent.futures
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Programs and property-test binaries run this many at a time, in the order they are listed.
JOBS = os.cpu_count() or 2


def in_parallel(fn, items):
    """fn(item) for every item, JOBS at a time; the results in the items' order."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=JOBS) as pool:
        return list(pool.map(fn, items))


@dataclass
class Step:
    title: str
    verdict: str                       # one line for the summary
    lines: list[str] = field(default_factory=list)
    failed: bool = False


@dataclass
class ProgramRun:
    topic: str
    kind: str        # fixed or buggy
    method: str
    outcome: str     # right, wrong, hung, bug shown, bug not shown, crashed
    shown: str       # the program's last line of output, or what happened
    seconds: float


# ---------------------------------------------------------------------------------------------
# Corpus programs

def corpus_programs(build: pathlib.Path) -> list[tuple[str, str]]:
    """(program, kind) of every corpus program built: a topic's buggy and fixed versions, and
    its other fixes (a fixed variant has no buggy twin)."""
    directory = build / "bin" / "corpus"
    if not directory.is_dir():
        return []
    programs = []
    for p in directory.iterdir():
        program, _, kind = p.name.rpartition("_")
        if kind in ("fixed", "buggy"):
            programs.append((program, kind))
    # Per topic: fixed before buggy, as a reader wants the right answer first.
    return sorted(programs, key=lambda pk: (pk[0], pk[1] != "fixed"))


def run_program(build: pathlib.Path, topic: str, kind: str, method: str,
                timeout: float) -> ProgramRun:
    exe = build / "bin" / "corpus" / f"{topic}_{kind}"
    started = time.monotonic()
    # Its own process group, so that a hung program's children are stopped with it.
    proc = subprocess.Popen([str(exe), method], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        seconds = time.monotonic() - started
        outcome = "hung" if kind == "fixed" else "bug shown"
        return ProgramRun(topic, kind, method, outcome, f"hung: stopped after {timeout:.0f} s",
                          seconds)
    seconds = time.monotonic() - started
    lines = stdout.strip().splitlines() or stderr.strip().splitlines() or [""]
    shown = lines[-1]
    if proc.returncode < 0:
        outcome = "crashed"
        shown = f"killed by signal {-proc.returncode}: {shown}"
    elif kind == "fixed":
        outcome = "right" if proc.returncode == 0 else "wrong"
    else:
        outcome = {0: "bug not shown", 1: "bug shown"}.get(proc.returncode, "crashed")
    return ProgramRun(topic, kind, method, outcome, shown, seconds)


def run_corpus_programs(build: pathlib.Path, methods: list[str], timeout: float) -> Step:
    """Fixed programs under every method, buggy ones under the first (fork)."""
    programs = corpus_programs(build)
    if not programs:
        return Step("corpus programs", "none built yet", failed=False)
    todo = [(topic, kind, method) for topic, kind in programs
            for method in (methods if kind == "fixed" else methods[:1])]
    runs: list[ProgramRun] = in_parallel(lambda t: run_program(build, *t, timeout), todo)
    lines = []
    for run in runs:
        mark = {"right": "ok ", "bug shown": "ok ", "bug not shown": "?  "}.get(
            run.outcome, "!! ")
        lines.append(f"{mark} {run.topic + '_' + run.kind:36} {run.method:10} "
                     f"{run.outcome:14} {run.shown}")
    fixed = [r for r in runs if r.kind == "fixed"]
    buggy = [r for r in runs if r.kind == "buggy"]
    right = sum(r.outcome == "right" for r in fixed)
    shown = sum(r.outcome == "bug shown" for r in buggy)
    verdict = (f"{right}/{len(fixed)} fixed runs right ({', '.join(methods)}); "
               f"{shown}/{len(buggy)} buggy programs showed their bug")
    return Step("corpus programs", verdict, lines, failed=right < len(fixed))


# ---------------------------------------------------------------------------------------------
# Hooks for the parts still to come (issue 8): each returns a Step, or None to be left out.

FINDING = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+):\d+: (?:warning|error): (?P<message>.*) "
                     r"\[(?P<check>ipc-[\w-]+)\]$")


def lint_corpus(build: pathlib.Path) -> Step | None:
    """The checker's findings on the corpus programs, grouped by check, with a SARIF file."""
    tool = build / "bin" / "ipcheck"
    database = build / "compile_commands.json"
    if not tool.exists() or not database.exists():
        return Step("lint", "checker not built yet")
    compiled = {pathlib.Path(entry["file"]).resolve()
                for entry in json.loads(database.read_text())}
    sources = sorted(p for p in (ROOT / "corpus" / "programs").glob("*/*/*.cpp")
                     if p.resolve() in compiled)
    if not sources:
        return Step("lint", "no corpus program in the build's compile_commands.json yet")
    sarif = build / "demo" / "corpus-programs.sarif"
    sarif.parent.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run([str(tool), "-p", str(build), f"--export-sarif={sarif}",
                               f"--source-root={ROOT}", *map(str, sources)],
                              capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        return Step("lint", "ipcheck timed out", failed=True)
    findings: dict[str, list[str]] = {}
    flagged = set()
    for line in (proc.stdout + proc.stderr).splitlines():
        match = FINDING.match(line)
        if match:
            path = pathlib.Path(match["file"]).resolve()
            flagged.add(path)
            where = f"{path.relative_to(ROOT)}:{match['line']}"
            findings.setdefault(match["check"], []).append(f"{where}: {match['message']}")
    lines = []
    for check, items in sorted(findings.items()):
        lines.append(f"{check}: {len(items)}")
        lines += [f"    {item}" for item in items]
    buggy = [p for p in sources if p.parent.name == "buggy"]
    fixed = [p for p in sources if p.parent.name == "fixed"]
    missed = [p.parent.parent.name for p in buggy if p.resolve() not in flagged]
    noisy = [p.parent.parent.name for p in fixed if p.resolve() in flagged]
    lines.append(f"SARIF: {sarif}")
    if missed:
        lines.append(f"not flagged (buggy): {', '.join(missed)}")
    if noisy:
        lines.append(f"flagged but fixed: {', '.join(noisy)}")
    verdict = (f"{len(buggy) - len(missed)}/{len(buggy)} buggy programs flagged, "
               f"{len(fixed) - len(noisy)}/{len(fixed)} fixed ones clean "
               f"({sum(map(len, findings.values()))} findings)")
    return Step("lint", verdict, lines, failed=bool(noisy))


def run_property_tests(build: pathlib.Path, timeout: float = 300) -> Step | None:
    """A short run of every property-test binary (few cases each), and the timelines the
    harness wrote for failing cases, among them the deliberately broken primitives'."""
    binaries = sorted((build / "bin").glob("*_props"))
    if not binaries:
        return Step("property tests", "not built yet")
    out_dir = build / "demo" / "proptest-out"
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, RC_PARAMS="max_success=20", IPCHECK_PROPTEST_OUT=str(out_dir))

    def run(exe: pathlib.Path) -> subprocess.CompletedProcess | None:
        print(f"  running {exe.name} ...", flush=True)
        try:
            return subprocess.run([str(exe), "--gtest_brief=1"], capture_output=True, text=True,
                                  env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    lines, passed, failed = [], 0, 0
    for exe, proc in zip(binaries, in_parallel(run, binaries)):
        if proc is None:
            lines.append(f"!!  {exe.name}: stopped after {timeout:.0f} s")
            failed += 1
            continue
        ok = re.search(r"\[  PASSED  \] (\d+) test", proc.stdout)
        bad = re.search(r"\[  FAILED  \] (\d+) test", proc.stdout)
        n_ok, n_bad = int(ok[1]) if ok else 0, int(bad[1]) if bad else 0
        if proc.returncode != 0 and n_bad == 0:
            n_bad = 1
        passed, failed = passed + n_ok, failed + n_bad
        lines.append(f"{'ok ' if n_bad == 0 else '!! '} {exe.name}: {n_ok} passed, {n_bad} failed")
    timelines = sorted(out_dir.glob("*.html"))
    if timelines:
        lines.append(f"timelines of failing cases ({len(timelines)}), e.g. {timelines[0]}")
    verdict = f"{passed} passed, {failed} failed (20 cases each); {len(timelines)} timelines"
    return Step("property tests", verdict, lines, failed=failed > 0)


# ---------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build", nargs="?", default="build", help="the CMake build directory")
    parser.add_argument("--methods", default="fork,spawn,forkserver,thread",
                        help="start methods for the fixed programs; the buggy run under the first")
    parser.add_argument("--timeout", type=float, default=20.0,
                        help="seconds before a corpus program counts as hung")
    args = parser.parse_args()
    build = pathlib.Path(args.build).resolve()
    methods = [m for m in args.methods.split(",") if m]

    started = time.monotonic()
    steps = []
    for title, run in (("lint", lambda: lint_corpus(build)),
                       ("corpus programs", lambda: run_corpus_programs(build, methods, args.timeout)),
                       ("property tests", lambda: run_property_tests(build))):
        print(f"== {title} ==", flush=True)
        step = run()
        if step is None:
            continue
        for line in step.lines or [step.verdict]:
            print(f"  {line}", flush=True)
        steps.append(step)

    print(f"== summary ({time.monotonic() - started:.0f} s) ==")
    for step in steps:
        print(f"  {'FAILED ' if step.failed else ''}{step.title}: {step.verdict}")
    return 1 if any(s.failed for s in steps) else 0


if __name__ == "__main__":
    sys.exit(main())
