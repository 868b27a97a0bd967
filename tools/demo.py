#!/usr/bin/env python3
"""./run demo: runs the main job on the bundled corpus and prints what each part showed.

Usage: demo.py BUILD_DIR
"""
import pathlib
import subprocess
import sys


def run_corpus_programs(build: pathlib.Path) -> list[tuple[str, str]]:
    """Runs every corpus program built under BUILD_DIR/bin/corpus, fixed ones first."""
    results = []
    programs = sorted((build / "bin" / "corpus").glob("*")) if (build / "bin" / "corpus").is_dir() else []
    for program in programs:
        buggy = "buggy" in program.name
        try:
            proc = subprocess.run([str(program)], capture_output=True, text=True, timeout=20)
            shown = (proc.stdout.strip().splitlines() or [""])[-1]
            status = f"exit {proc.returncode}"
        except subprocess.TimeoutExpired:
            shown, status = "(hung: stopped after 20 s)", "timeout"
        results.append((program.name, f"{'buggy' if buggy else 'fixed'}  {status:8}  {shown}"))
    return results


def main() -> int:
    build = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "build")
    print("== corpus programs ==")
    results = run_corpus_programs(build)
    for name, line in results:
        print(f"  {name:40} {line}")
    if not results:
        print("  (no corpus programs built)")
    print(f"== summary: {len(results)} corpus programs run ==")
    return 0


if __name__ == "__main__":
    sys.exit(main())
