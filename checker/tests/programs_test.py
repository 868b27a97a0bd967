#!/usr/bin/env python3
"""The corpus programs through the plugin: every fixed/ program is clean under every check, and
every buggy/ program is flagged where its bug is. A buggy program marks each bug with a
`// BUG` comment on the line of the read or the action; each such line must carry a finding (its
warning or one of its notes), and each finding must touch a BUG line (no finding elsewhere).

--pending names the topics whose bug no check finds yet (their check is still being written):
their BUG lines may lack a finding, every other rule holds, and a pending topic that is fully
flagged fails the test until it is taken off the list."""

import argparse
import pathlib
import re
import subprocess
import sys

DIAG = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):\d+: (?P<kind>warning|error|note): "
                  r"(?P<text>.*)$", re.M)


def findings(output: str, source: pathlib.Path) -> list[dict]:
    """The ipcheck findings of a compile: each warning with the lines of its notes."""
    result = []
    for m in DIAG.finditer(output):
        same_file = pathlib.Path(m["file"]).resolve() == source.resolve()
        if m["kind"] in ("warning", "error"):
            if re.search(r"\[ipc-[a-z-]+\]$", m["text"]):
                result.append({"line": int(m["line"]) if same_file else None, "notes": [],
                               "text": m.group(0)})
            continue
        if result and same_file:
            result[-1]["notes"].append(int(m["line"]))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("clang", "plugin", "programs", "include"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--pending", default="", help="comma-separated topics")
    args = parser.parse_args()
    pending = {t for t in args.pending.split(",") if t}
    failures = []
    sources = sorted(pathlib.Path(args.programs).glob("*/*/*.cpp"))
    if not sources:
        print(f"FAIL no programs under {args.programs}")
        return 1
    for source in sources:
        kind = source.parent.name
        proc = subprocess.run([args.clang, "-std=c++20", "-fsyntax-only", f"-fplugin={args.plugin}",
                               "-I", args.include, str(source)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        found = findings(proc.stdout, source)
        name = f"{source.parent.parent.name}/{kind}"
        if source.stem != source.parent.parent.name:  # another fix of the topic's bug
            name += f"/{source.name}"
        problems = []
        if proc.returncode != 0:
            problems.append(f"the compile failed (exit {proc.returncode})")
        if kind == "fixed":
            problems += [f"unexpected finding: {f['text']}" for f in found]
        elif kind == "buggy":
            lines = source.read_text().splitlines()
            bugs = {i + 1 for i, text in enumerate(lines) if re.search(r"//\s*BUG\b", text)}
            if not bugs:
                problems.append("no `// BUG` line marks where the bug is")
            touched = set()
            for f in found:
                on = {f["line"], *f["notes"]} & bugs
                if not on:
                    problems.append(f"finding away from every BUG line: {f['text']}")
                touched |= on
            missed = sorted(bugs - touched)
            topic = source.parent.parent.name
            if topic not in pending:
                problems += [f"BUG line {b} has no finding" for b in missed]
            elif not missed:
                problems.append("every BUG line is flagged: take the topic off --pending")
            else:
                print(f"PENDING {topic}/buggy: BUG lines {missed} wait for their check")
        verdict = "FAIL" if problems else "PASS"
        claim = ("is clean" if kind == "fixed" else
                 "has no finding away from its BUG lines (pending)"
                 if source.parent.parent.name in pending else
                 "is flagged at its BUG lines and nowhere else")
        print(f"{verdict} {name} {claim}")
        for p in problems:
            print(f"  {p}")
        if problems:
            print(proc.stdout)
            failures.append(name)
    if failures:
        print(f"{len(failures)} failed: {failures}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
