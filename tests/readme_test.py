#!/usr/bin/env python3
"""The README cannot rot: every example in it is run.

Usage: readme_test.py --readme README.md --build BUILD_DIR --source SOURCE_DIR --work DIR
                      --cxx CLANGXX

- A ```cpp block with a `main` is compiled against the runtime and run; a `printf` line whose
  comment gives a value (`std::printf(...);  // 40000`) says what the program must print.
- A ```sh block's `build/bin/ipcheck …` lines are run, in order, in a scratch project laid out
  as the README assumes (src/*.cpp with findings, include/, build/compile_commands.json): each
  must exit 0 (clean or warnings) or 1 (findings as errors), never 2 (a usage error), and a
  file it is told to write must exist afterwards.
- `./run …` lines are what CI itself runs; they are not run again here.
Prints one line per example, then 'N passed, N failed'.
"""
import argparse
import json
import pathlib
import re
import shutil
import subprocess
import sys

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
EXPECTED_OUTPUT = re.compile(r"printf\(.*\);\s*//\s*(\S+)\s*$")
WRITES = re.compile(r"--(?:export-sarif|write-baseline)=(\S+)")


def blocks(readme: str, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(readme) if lang == language]


def run_cpp_example(code: str, index: int, args) -> tuple[bool, str]:
    work = args.work / f"cpp{index}"
    work.mkdir(parents=True, exist_ok=True)
    source = work / "example.cpp"
    source.write_text(code)
    binary = work / "example"
    compile_cmd = [args.cxx, "-std=c++20", "-O1", f"-I{args.source / 'runtime/include'}",
                   str(source), str(args.build / "lib/libmp.a"), "-lcrypto", "-lpthread", "-ldl",
                   "-o", str(binary)]
    built = subprocess.run(compile_cmd, capture_output=True, text=True)
    if built.returncode != 0:
        return False, f"does not compile:\n{built.stderr[-3000:]}"
    ran = subprocess.run([str(binary)], capture_output=True, text=True, timeout=120)
    if ran.returncode != 0:
        return False, f"exits {ran.returncode}: {ran.stderr[-2000:]}"
    expected = [m.group(1) for line in code.splitlines() if (m := EXPECTED_OUTPUT.search(line))]
    got = ran.stdout.split()
    if expected and got != expected:
        return False, f"prints {got}, the README says {expected}"
    return True, f"prints {' '.join(got) or 'nothing'}"


def scratch_project(args) -> pathlib.Path:
    """src/worker.cpp and src/main.cpp with findings, include/, build/compile_commands.json."""
    project = args.work / "project"
    shutil.rmtree(project, ignore_errors=True)
    (project / "src").mkdir(parents=True)
    (project / "build/bin").mkdir(parents=True)
    shutil.copytree(args.source / "corpus/checks/include", project / "include")
    findings = (args.source / "checker/tests/inputs/findings.cpp").read_text()
    entries = []
    for name in ("worker.cpp", "main.cpp"):
        (project / "src" / name).write_text(findings)
        entries.append({"directory": str(project), "file": str(project / "src" / name),
                        "arguments": [args.cxx, "-std=c++20", "-Iinclude", "-c",
                                      f"src/{name}"]})
    (project / "build/compile_commands.json").write_text(json.dumps(entries, indent=1))
    (project / "build/bin/ipcheck").symlink_to(args.build / "bin/ipcheck")
    return project


def run_sh_line(line: str, project: pathlib.Path) -> tuple[bool, str]:
    ran = subprocess.run(["sh", "-c", line], cwd=project, capture_output=True, text=True,
                         timeout=300)
    if ran.returncode not in (0, 1):
        return False, f"exits {ran.returncode}: {(ran.stderr or ran.stdout)[-2000:]}"
    for written in WRITES.findall(line):
        if not (project / written).is_file():
            return False, f"did not write {written}"
    return True, f"exits {ran.returncode}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", type=pathlib.Path, required=True)
    parser.add_argument("--build", type=pathlib.Path, required=True)
    parser.add_argument("--source", type=pathlib.Path, required=True)
    parser.add_argument("--work", type=pathlib.Path, required=True)
    parser.add_argument("--cxx", required=True)
    args = parser.parse_args()
    for name in ("readme", "build", "source", "work"):
        setattr(args, name, getattr(args, name).resolve())
    args.work.mkdir(parents=True, exist_ok=True)
    readme = args.readme.read_text()

    results = []
    for index, code in enumerate(blocks(readme, "cpp")):
        if "int main" in code:
            results.append((f"cpp example {index + 1}", *run_cpp_example(code, index, args)))
    project = scratch_project(args)
    commands = [line.split("  #")[0].strip() for body in blocks(readme, "sh")
                for line in body.splitlines() if line.strip().startswith("build/bin/ipcheck")]
    if not commands:
        results.append(("sh examples", False, "the README shows no ipcheck command"))
    for command in commands:
        results.append((command, *run_sh_line(command, project)))

    for name, ok, detail in results:
        print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}")
    failed = sum(not ok for _, ok, _ in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
