"""What the checker's speed scripts share (checker_plugin.py, checker_tool.py): the corpus as
translation units, the binaries of the build, and interleaved CPU-time measurement.

CPU time (user + system of the command) rather than wall time: the other jobs of this shared
machine delay a compile without making it as much more expensive. Each repetition runs every
command once; the two sides of a ratio run back to back, so that a slow spell falls on both.

The build directory comes from IPCHECK_BUILD_DIR (compare.py sets it), else <repo>/build.
"""
import os
import pathlib
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[2]
CLANGXX = shutil.which("clang++-19") or "clang++-19"
STD = "-std=c++20"


def fail(message: str) -> None:
    print(f"{pathlib.Path(sys.argv[0]).name}: {message}", file=sys.stderr)
    sys.exit(1)


class Unit:
    """One translation unit: a short key, its source, the flags it compiles with."""

    def __init__(self, key: str, source: pathlib.Path, flags: list[str]):
        self.key, self.source, self.flags = key, source, flags

    def syntax_only(self, *extra: str) -> list[str]:
        return [CLANGXX, STD, "-fsyntax-only", *extra, *self.flags, str(self.source)]


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def corpus_units() -> list[Unit]:
    """corpus/checks/*.cpp against the stub headers, corpus/programs/*/*/*.cpp against the
    runtime's."""
    checks_flags = ["-I", str(REPO / "corpus" / "checks" / "include")]
    program_flags = ["-I", str(REPO / "runtime" / "include")]
    units = [Unit("checks_" + slug(p.stem), p, checks_flags)
             for p in sorted((REPO / "corpus" / "checks").glob("*.cpp"))]
    # <topic>/fixed/<topic>.cpp is programs_<topic>_fixed; another fix of the same bug,
    # fixed/<topic>_<variant>.cpp, is programs_<topic>_<variant>_fixed (its bin/corpus name).
    units += [Unit(f"programs_{slug(p.stem)}_{p.parent.name}", p, program_flags)
              for p in sorted((REPO / "corpus" / "programs").glob("*/*/*.cpp"))]
    if not units:
        fail(f"no corpus files under {REPO / 'corpus'}")
    return units


def build_paths() -> tuple[pathlib.Path, pathlib.Path, pathlib.Path]:
    """The plugin, the tool and a scratch directory of the build; fails if they are not built."""
    build = pathlib.Path(os.environ.get("IPCHECK_BUILD_DIR", REPO / "build")).resolve()
    plugin, tool = build / "lib" / "ipcheck-plugin.so", build / "bin" / "ipcheck"
    for path in (plugin, tool):
        if not path.exists():
            fail(f"{path} is not built")
    work = build / "bench" / "checker_speed"
    work.mkdir(parents=True, exist_ok=True)
    return plugin, tool, work


def cpu_seconds(commands: list[list[str]], cwd: pathlib.Path) -> float:
    """CPU time of the commands run one after the other; a failing command stops the run."""
    total = 0.0
    for command in commands:
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode != 0:
                err.seek(0)
                fail(f"exit {proc.returncode}: {' '.join(command)}\n"
                     f"{err.read().decode(errors='replace')[-2000:]}")
        total += usage.ru_utime + usage.ru_stime
    return total


def measure(groups: list[dict[str, list[list[str]]]], repetitions: int, cwd: pathlib.Path,
            runs: int = 1) -> dict[str, float]:
    """name -> the median over repetitions of the CPU time of its commands. A sample is the
    least of `runs` runs: the machine's other jobs only ever add time (cache and core
    contention), so the least is the closest to the cost. The names of a group (the two sides
    of one ratio) run back to back, alternating, in a random order, so that both see the same
    load; the groups run in a random order."""
    samples: dict[str, list[float]] = {name: [] for group in groups for name in group}
    for _ in range(repetitions):
        for group in random.sample(groups, len(groups)):
            least = {name: float("inf") for name in group}
            for _ in range(runs):
                for name in random.sample(list(group), len(group)):
                    least[name] = min(least[name], cpu_seconds(group[name], cwd))
            for name, value in least.items():
                samples[name].append(value)
    return {name: statistics.median(values) for name, values in samples.items()}
