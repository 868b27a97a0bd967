#!/usr/bin/env python3
"""./run soak: the property tests with fresh seeds, over and over, until stopped or a budget ends.

Usage: soak.py BUILD_DIR   (IPCHECK_SOAK_SECONDS=N stops after about N seconds; without it the
soak runs until Ctrl-C)

Each round runs every property-test binary of BUILD_DIR/bin (*_props) once with a new
RapidCheck seed and more cases per property than CI runs (IPCHECK_SOAK_CASES, default 300),
with the harness's progress line on (cases done, per second, failing so far). The tests that
check the harness itself with fixed cases (FindsBugs, Supervisor, Report, FaultPlan) are left
out: a soak looks for new counterexamples. A failing run's output is kept in
BUILD_DIR/soak/<binary>.<round>.log, with the reproduce line of its failing case; the exit
status is 1 if anything failed.
"""
import os
import pathlib
import random
import signal
import subprocess
import sys
import time

HARNESS_SELF_TESTS = "-*FindsBugs*:Supervisor.*:Report.*:FaultPlan.*"


def main() -> int:
    build = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "build").resolve()
    binaries = sorted((build / "bin").glob("*_props"))
    if not binaries:
        print(f"soak: no *_props binaries in {build}/bin: build first", file=sys.stderr)
        return 2
    budget = float(os.environ.get("IPCHECK_SOAK_SECONDS", "0") or 0)
    cases = int(os.environ.get("IPCHECK_SOAK_CASES", "300"))
    out = build / "soak"
    out.mkdir(exist_ok=True)
    started = time.monotonic()
    failures: list[pathlib.Path] = []
    runs = 0
    stop = False

    def interrupted(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    round_ = 0
    while not stop and (budget <= 0 or time.monotonic() - started < budget):
        round_ += 1
        for binary in binaries:
            if stop or (budget > 0 and time.monotonic() - started >= budget):
                break
            seed = random.getrandbits(63)
            env = dict(os.environ, RC_PARAMS=f"seed={seed} max_success={cases}",
                       IPCHECK_PROPTEST_PROGRESS="1",
                       IPCHECK_PROPTEST_OUT=str(out / "reports"))
            print(f"soak: round {round_}: {binary.name} seed={seed}", file=sys.stderr, flush=True)
            proc = subprocess.run([str(binary), f"--gtest_filter={HARNESS_SELF_TESTS}"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            runs += 1
            if proc.returncode != 0 and not stop:
                log = out / f"{binary.name}.{round_}.log"
                log.write_text(proc.stdout)
                failures.append(log)
                print(f"soak: FAILED: {binary.name} (seed={seed}): {log}", file=sys.stderr,
                      flush=True)
    elapsed = time.monotonic() - started
    print(f"soak: {runs} runs of {len(binaries)} binaries in {elapsed:.0f} s, "
          f"{len(failures)} failed" + "".join(f"\n  {f}" for f in failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
