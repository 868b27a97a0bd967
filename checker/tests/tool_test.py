#!/usr/bin/env python3
"""Front-end tests of the ipcheck tool and plugin: exit status, filters, NOLINT, baselines,
SARIF structure (the fields GitHub code scanning requires) and an API table for a made-up
library. Each test states its claim; the first failure stops the run with a message."""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys

ARGS = None
FAILURES = []


def run(cmd, cwd=None):
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc.returncode, proc.stdout


def tool(*args, flags=None, cwd=None):
    cmd = [ARGS.tool, *args]
    if flags is not None:
        cmd += ["--", "-std=c++20", "-I", os.path.join(ARGS.corpus, "include"), *flags]
    return run(cmd, cwd=cwd or ARGS.work)


def inp(name):
    return os.path.join(ARGS.inputs, name)


def expect(claim, condition, output=""):
    if condition:
        print(f"PASS {claim}")
    else:
        print(f"FAIL {claim}\n{output}")
        FAILURES.append(claim)


def warnings(output):
    return re.findall(r"^.*: (?:warning|error): .*\[ipc-[a-z-]+\]$", output, re.M)


def test_version_and_list():
    rc, out = tool("--version")
    expect("--version prints the version and exits 0", rc == 0 and "ipcheck version" in out, out)
    rc, out = tool("--list-checks")
    expect("--list-checks lists every check", rc == 0 and "ipc-check-then-act" in out
           and "ipc-nonatomic-update" in out, out)
    rc, out = tool("--help")
    expect("--help prints clang-tidy's layout: usage, the options, -p, exit statuses",
           rc == 0 and out.startswith("OVERVIEW: ") and "USAGE: ipcheck [options] <source0>" in out
           and all(o in out for o in ("--checks=", "--warnings-as-errors=", "--export-sarif=",
                                      "--baseline=", "--list-checks", "-p <string>",
                                      "Exit status:", "NOLINT")), out)
    rc, out = tool("--list-checks", "--checks=-*,ipc-nonatomic-update")
    expect("--list-checks honours --checks", rc == 0 and "ipc-check-then-act" not in out
           and "ipc-nonatomic-update" in out, out)


def test_exit_status():
    rc, out = tool(inp("clean.cpp"), flags=[])
    expect("a clean file exits 0 with no finding", rc == 0 and not warnings(out), out)
    rc, out = tool(inp("findings.cpp"), flags=[])
    expect("findings as warnings exit 0", rc == 0 and len(warnings(out)) == 2, out)
    rc, out = tool("--warnings-as-errors=ipc-*", inp("findings.cpp"), flags=[])
    expect("--warnings-as-errors makes findings errors and exits 1",
           rc == 1 and len(re.findall(r"error: .*\[ipc-", out)) == 2, out)
    rc, out = tool("--warnings-as-errors=ipc-nonatomic-update", inp("clean.cpp"), flags=[])
    expect("--warnings-as-errors on a clean file exits 0", rc == 0, out)
    rc, out = tool(inp("broken.cpp"), flags=[])
    expect("a file that does not compile prints clang's error and exits 2",
           rc == 2 and "error:" in out and "Stack dump" not in out, out)
    rc, out = tool(os.path.join(ARGS.work, "no-such-file.cpp"), flags=[])
    expect("a file that does not exist is an error (exit 2)", rc == 2 and "error:" in out, out)
    missing = os.path.join(ARGS.work, "missing_header.cpp")
    with open(missing, "w") as f:
        f.write('#include "no/such/header.h"\nint f() { return 0; }\n')
    rc, out = tool(missing, flags=[])
    expect("a missing header prints clang's fatal error and exits 2",
           rc == 2 and "fatal error:" in out and "Stack dump" not in out, out)
    rc, out = tool(inp("broken.cpp"), inp("findings.cpp"), flags=[])
    expect("one file that does not compile makes the run exit 2; the others are still checked",
           rc == 2 and len(warnings(out)) == 2 and "Stack dump" not in out, out)
    rc, out = tool()
    expect("no input file is a usage error (exit 2)", rc == 2, out)
    rc, out = tool("--no-such-option", inp("clean.cpp"), flags=[])
    expect("an unknown option is a usage error (exit 2)", rc == 2, out)


def test_checks_filter():
    rc, out = tool("--checks=-*,ipc-nonatomic-update", inp("findings.cpp"), flags=[])
    ws = warnings(out)
    expect("--checks=-*,X runs only X", rc == 0 and len(ws) == 1 and "ipc-nonatomic-update" in ws[0], out)
    rc, out = tool("--checks=-ipc-*", inp("findings.cpp"), flags=[])
    expect("--checks=-ipc-* runs nothing", rc == 0 and not warnings(out), out)


def test_same_text_as_plugin():
    rc, tool_out = tool(inp("findings.cpp"), flags=[])
    prc, plugin_out = run([ARGS.clang, "-std=c++20", "-fsyntax-only", f"-fplugin={ARGS.plugin}",
                           "-I", os.path.join(ARGS.corpus, "include"), inp("findings.cpp")],
                          cwd=ARGS.work)
    strip = lambda ws: sorted(w.split(": ", 1)[1] for w in ws)
    expect("the plugin reports the same diagnostics with the same text as the tool",
           prc == 0 and strip(warnings(tool_out)) == strip(warnings(plugin_out)) and warnings(tool_out),
           tool_out + plugin_out)
    prc, out = run([ARGS.clang, "-std=c++20", "-fsyntax-only", f"-fplugin={ARGS.plugin}", "-Werror",
                    "-I", os.path.join(ARGS.corpus, "include"), inp("findings.cpp")], cwd=ARGS.work)
    expect("-Werror turns plugin findings into errors", prc != 0 and "error: " in out, out)
    prc, out = run([ARGS.clang, "-std=c++20", "-fsyntax-only", f"-fplugin={ARGS.plugin}",
                    "-Xclang", "-plugin-arg-ipcheck", "-Xclang", "checks=-*,ipc-check-then-act",
                    "-I", os.path.join(ARGS.corpus, "include"), inp("findings.cpp")], cwd=ARGS.work)
    ws = warnings(out)
    expect("plugin checks= selects checks", prc == 0 and len(ws) == 1 and "ipc-check-then-act" in ws[0], out)
    prc, out = run([ARGS.clang, "-std=c++20", "-fsyntax-only", f"-fplugin={ARGS.plugin}",
                    "-Xclang", "-plugin-arg-ipcheck", "-Xclang", "bogus=1", inp("clean.cpp")], cwd=ARGS.work)
    expect("an unknown plugin argument is an error", prc != 0 and "ipcheck plugin" in out, out)
    prc, out = run([ARGS.clang, "-std=c++20", "-fsyntax-only", f"-fplugin={ARGS.plugin}",
                    "-Xclang", "-plugin-arg-ipcheck", "-Xclang", "warnings-as-errors=ipc-nonatomic-*",
                    "-I", os.path.join(ARGS.corpus, "include"), inp("findings.cpp")], cwd=ARGS.work)
    expect("plugin warnings-as-errors= makes the matching findings errors and fails the compile",
           prc != 0 and len(re.findall(r"error: .*\[ipc-nonatomic-update\]", out)) == 1
           and len(re.findall(r"warning: .*\[ipc-check-then-act\]", out)) == 1, out)
    baseline = os.path.join(ARGS.work, "plugin_baseline.txt")
    tool(f"--write-baseline={baseline}", inp("findings.cpp"), flags=[])
    prc, out = run([ARGS.clang, "-std=c++20", "-fsyntax-only", f"-fplugin={ARGS.plugin}", "-Werror",
                    "-Xclang", "-plugin-arg-ipcheck", "-Xclang", f"baseline={baseline}",
                    "-I", os.path.join(ARGS.corpus, "include"), inp("findings.cpp")], cwd=ARGS.work)
    expect("plugin baseline= suppresses the findings a baseline lists", prc == 0 and not warnings(out), out)


def test_nolint():
    rc, out = tool(inp("nolint.cpp"), flags=[])
    lines = sorted(int(w.split(":")[1]) for w in warnings(out))
    expect("NOLINT, NOLINT(check) and NOLINTNEXTLINE silence; NOLINT(other-check) does not",
           rc == 0 and lines == [5, 8], out)


def test_baseline():
    baseline = os.path.join(ARGS.work, "baseline.txt")
    rc, out = tool(f"--write-baseline={baseline}", inp("findings.cpp"), flags=[])
    expect("--write-baseline writes one entry per finding and exits 0",
           rc == 0 and os.path.exists(baseline)
           and len([l for l in open(baseline) if l.strip() and not l.startswith("#")]) == 2, out)
    rc, out = tool(f"--baseline={baseline}", "--warnings-as-errors=*", inp("findings.cpp"), flags=[])
    expect("findings in the baseline are suppressed", rc == 0 and not warnings(out), out)
    # A finding that moves to another line keeps its fingerprint.
    moved = os.path.join(ARGS.work, "findings.cpp")
    with open(inp("findings.cpp")) as f:
        text = f.read()
    with open(moved, "w") as f:
        f.write("// a new first line\n\n" + text)
    shutil.copy(baseline, os.path.join(ARGS.work, "b2.txt"))
    rc, out = tool(f"--baseline={baseline}", "--warnings-as-errors=*", moved, flags=[])
    # Paths differ (inputs/ vs work/), so only file:check:message keys of the same file match:
    # write a baseline for the moved copy, then move the finding again.
    rc, out = tool(f"--write-baseline={baseline}", moved, flags=[])
    with open(moved, "w") as f:
        f.write("// another line\n// and one more\n\n\n" + text)
    rc, out = tool(f"--baseline={baseline}", "--warnings-as-errors=*", moved, flags=[])
    expect("baseline entries survive line moves", rc == 0 and not warnings(out), out)
    with open(moved, "a") as f:
        f.write("\nvoid extra(mp::Value<int>& v) { v.value() += 1; }\n")
    rc, out = tool(f"--baseline={baseline}", "--warnings-as-errors=*", moved, flags=[])
    expect("a new finding is still reported with a baseline", rc == 1 and len(warnings(out)) == 1, out)


def test_sarif():
    sarif = os.path.join(ARGS.work, "out.sarif")
    rc, out = tool(f"--export-sarif={sarif}", f"--source-root={ARGS.inputs}", inp("findings.cpp"), flags=[])
    expect("--export-sarif writes a file", rc == 0 and os.path.exists(sarif), out)
    with open(sarif) as f:
        log = json.load(f)
    problems = []
    req = lambda cond, what: cond or problems.append(what)
    req(log.get("version") == "2.1.0", "version 2.1.0")
    req("$schema" in log, "$schema")
    runs = log.get("runs", [])
    req(len(runs) == 1, "exactly one run")
    run0 = runs[0] if runs else {}
    driver = run0.get("tool", {}).get("driver", {})
    req(driver.get("name") == "ipcheck", "tool.driver.name")
    req(isinstance(driver.get("version"), str), "tool.driver.version")
    rules = driver.get("rules", [])
    rule_ids = [r.get("id") for r in rules]
    req({"ipc-check-then-act", "ipc-nonatomic-update"} <= set(rule_ids), "a rule per check")
    summaries = dict(line.split("\t", 1) for line in tool("--list-checks")[1].splitlines() if "\t" in line)
    for r in rules:
        req(r.get("shortDescription", {}).get("text"), f"rule {r.get('id')} shortDescription.text")
        req(r.get("fullDescription", {}).get("text"), f"rule {r.get('id')} fullDescription.text")
        req(r.get("help", {}).get("text") == summaries.get(r.get("id")),
            f"rule {r.get('id')} help.text is the check's summary")
        req(r.get("defaultConfiguration", {}).get("level") in ("warning", "error", "note"),
            f"rule {r.get('id')} defaultConfiguration.level")
    results = run0.get("results", [])
    req(len(results) == 2, "a result per finding")
    for res in results:
        req(res.get("ruleId") in rule_ids, "ruleId names a rule")
        index = res.get("ruleIndex")
        req(isinstance(index, int) and 0 <= index < len(rules) and rules[index]["id"] == res.get("ruleId"),
            "ruleIndex points at the rule of ruleId")
        req(res.get("level") in ("warning", "error", "note", "none"), "level")
        req(res.get("message", {}).get("text"), "message.text")
        locs = res.get("locations", [])
        req(len(locs) == 1, "one location")
        for loc in locs:
            phys = loc.get("physicalLocation", {})
            art = phys.get("artifactLocation", {})
            req(art.get("uri") == "findings.cpp", f"relative artifact uri, got {art.get('uri')}")
            req(art.get("uriBaseId") == "%SRCROOT%", "uriBaseId")
            region = phys.get("region", {})
            req(isinstance(region.get("startLine"), int) and region["startLine"] >= 1, "region.startLine")
            req(isinstance(region.get("startColumn"), int) and region["startColumn"] >= 1, "region.startColumn")
        fps = res.get("partialFingerprints", {})
        req(fps and all(isinstance(v, str) and v for v in fps.values()), "partialFingerprints")
        flows = res.get("codeFlows", [])
        req(flows and flows[0]["threadFlows"][0]["locations"], "codeFlows with the note locations")
        for step in flows[0]["threadFlows"][0]["locations"] if flows else []:
            req(step["location"]["physicalLocation"]["region"]["startLine"] >= 1, "codeFlow step region")
    base = run0.get("originalUriBaseIds", {}).get("%SRCROOT%", {}).get("uri", "")
    req(base.startswith("file://") and base.endswith("/"), "originalUriBaseIds %SRCROOT%")
    expect("SARIF has the structure GitHub code scanning requires", not problems,
           "\n".join(problems) + "\n" + json.dumps(log, indent=1)[:3000])
    # Fingerprints are stable across a line move.
    first = [r["partialFingerprints"] for r in results]
    moved = os.path.join(ARGS.work, "sarif_moved", "findings.cpp")
    os.makedirs(os.path.dirname(moved), exist_ok=True)
    with open(inp("findings.cpp")) as f:
        text = f.read()
    with open(moved, "w") as f:
        f.write("\n\n// moved\n" + text)
    sarif2 = os.path.join(ARGS.work, "moved.sarif")
    tool(f"--export-sarif={sarif2}", f"--source-root={os.path.dirname(moved)}", moved, flags=[])
    with open(sarif2) as f:
        second = [r["partialFingerprints"] for r in json.load(f)["runs"][0]["results"]]
    expect("fingerprints do not depend on line numbers", first == second, f"{first}\n{second}")


def test_madeup_library():
    acme = ["-I", ARGS.inputs]
    rc, out = tool(inp("acme.cpp"), flags=acme)
    expect("an unknown library gives no finding", rc == 0 and not warnings(out), out)
    rc, out = tool(f"--api-table={inp('acme.yaml')}", inp("acme.cpp"), flags=acme)
    ws = warnings(out)
    expect("a table is all it takes to check a new library (tool)",
           rc == 0 and len(ws) == 1 and ":5:" in ws[0] and "'s' may change between the check and 'claim'" in ws[0], out)
    prc, out = run([ARGS.clang, "-std=c++20", "-fsyntax-only", f"-fplugin={ARGS.plugin}",
                    "-Xclang", "-plugin-arg-ipcheck", "-Xclang", f"api={inp('acme.yaml')}",
                    "-I", ARGS.inputs, inp("acme.cpp")], cwd=ARGS.work)
    ws = warnings(out)
    expect("a table is all it takes to check a new library (plugin api=)", prc == 0 and len(ws) == 1, out)
    bad_table = os.path.join(ARGS.work, "bad.yaml")
    with open(bad_table, "w") as f:
        f.write("library: x\nfunctions:\n  - { name: 'f', roles: [levitate] }\n")
    rc, out = tool(f"--api-table={bad_table}", inp("acme.cpp"), flags=acme)
    expect("a bad table is reported and exits 2", rc == 2 and "levitate" in out, out)


def test_compilation_database():
    db_dir = os.path.join(ARGS.work, "db")
    os.makedirs(db_dir, exist_ok=True)
    with open(os.path.join(db_dir, "compile_commands.json"), "w") as f:
        json.dump([{"directory": ARGS.inputs, "file": inp("findings.cpp"),
                    "command": f"clang++ -std=c++20 -I {os.path.join(ARGS.corpus, 'include')} -c findings.cpp"}], f)
    rc, out = tool("-p", db_dir, inp("findings.cpp"))
    expect("-p reads compile_commands.json", rc == 0 and len(warnings(out)) == 2, out)
    with open(os.path.join(db_dir, "compile_commands.json"), "w") as f:
        json.dump([{"directory": ARGS.inputs, "file": inp("findings.cpp"),
                    "command": f"clang++ -std=c++20 -fplugin={ARGS.plugin} -Xclang -plugin-arg-ipcheck "
                               f"-Xclang checks=-* -I {os.path.join(ARGS.corpus, 'include')} -c findings.cpp"}], f)
    rc, out = tool("-p", db_dir, inp("findings.cpp"))
    expect("a compile command that loads the plugin is checked once, by the tool",
           rc == 0 and len(warnings(out)) == 2, out)


def plugin(*args, source):
    return run([ARGS.clang, "-std=c++20", "-fsyntax-only", f"-fplugin={ARGS.plugin}",
                "-I", os.path.join(ARGS.corpus, "include"), *args, source], cwd=ARGS.work)


def test_check_options():
    rc, out = tool(inp("timeouts.cpp"), flags=[])
    expect("by default a call with a timeout under a lock is not reported",
           rc == 0 and len(warnings(out)) == 1 and "'get'" in out, out)
    rc, out = tool("--check-option=ipc-blocking-under-lock.StrictTimeouts=true", inp("timeouts.cpp"),
                   flags=[])
    ws = warnings(out)
    expect("--check-option=ipc-blocking-under-lock.StrictTimeouts=true reports it too",
           rc == 0 and len(ws) == 2 and any("'wait'" in w and "timeout" in w for w in ws), out)
    rc, out = plugin("-Xclang", "-plugin-arg-ipcheck", "-Xclang",
                     "check-option=ipc-blocking-under-lock.StrictTimeouts=true", source=inp("timeouts.cpp"))
    expect("plugin check-option= sets StrictTimeouts", rc == 0 and len(warnings(out)) == 2, out)
    rc, out = plugin("-Xclang", "-plugin-arg-ipcheck", "-Xclang",
                     "check-option=ipc-blocking-under-lock.StrictTimeouts=false", source=inp("timeouts.cpp"))
    expect("plugin check-option= can set it back to false", rc == 0 and len(warnings(out)) == 1, out)
    for option, why in (("ipc-blocking-under-lock.Strict=true", "unknown check option"),
                        ("ipc-no-such-check.StrictTimeouts=true", "unknown check 'ipc-no-such-check'"),
                        ("ipc-blocking-under-lock.StrictTimeouts=maybe", "invalid value 'maybe'"),
                        ("ipc-blocking-under-lock.StrictTimeouts", "malformed check option"),
                        ("StrictTimeouts=true", "malformed check option")):
        rc, out = tool(f"--check-option={option}", inp("timeouts.cpp"), flags=[])
        expect(f"the tool rejects --check-option={option} (exit 2: {why})",
               rc == 2 and f"ipcheck: error: {why}" in out and not warnings(out), out)
        rc, out = plugin("-Xclang", "-plugin-arg-ipcheck", "-Xclang", f"check-option={option}",
                         source=inp("timeouts.cpp"))
        expect(f"the plugin rejects check-option={option} with a clang error ({why})",
               rc != 0 and re.search(r"error: ipcheck plugin: " + re.escape(why), out) is not None, out)
    rc, out = tool("--list-checks")
    expect("--list-checks shows the new checks and the option",
           rc == 0 and "ipc-lock-reacquire\t" in out and "ipc-blocking-under-lock\t" in out
           and "ipc-blocking-under-lock.StrictTimeouts" in out, out)


def test_fixits():
    rc, out = plugin("-fdiagnostics-parseable-fixits", source=inp("lost_update.cpp"))
    fixes = re.findall(r'^fix-it:".*lost_update.cpp":\{(\d+):(\d+)-(\d+):(\d+)\}:"(.*)"$', out, re.M)
    expect("a lost update carries a fix-it that writes the copy back after the last change",
           ("14", "18", "14", "18", r'\n  d.set(\"k\", v);') in fixes, out)
    expect("the write-back goes after the loop that changes the copy, with the proxy's own key",
           ("24", "22", "24", "22", r'\n  rows.set(2, row);') in fixes, out)
    fixed = os.path.join(ARGS.work, "lost_update_fixed.cpp")
    shutil.copy(inp("lost_update.cpp"), fixed)
    rc, out = plugin("-Xclang", "-fixit", source=fixed)
    with open(fixed) as f:
        text = f.read()
    expect("clang's -fixit applies the write-back", 'v.push_back(x);\n  d.set("k", v);\n' in text
           and 'row.push_back(i);\n  rows.set(2, row);\n' in text, text)
    rc, out = plugin(source=fixed)
    expect("the fixed file has no lost update left",
           rc == 0 and "ipc-proxy-lost-update" not in out, out)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    for name in ("tool", "plugin", "clang", "corpus", "inputs", "work"):
        parser.add_argument(f"--{name}", required=True)
    ARGS = parser.parse_args()
    shutil.rmtree(ARGS.work, ignore_errors=True)
    os.makedirs(ARGS.work)
    for test in (test_version_and_list, test_exit_status, test_checks_filter, test_same_text_as_plugin,
                 test_nolint, test_baseline, test_sarif, test_madeup_library, test_compilation_database, test_fixits,
                 test_check_options):
        test()
    if FAILURES:
        print(f"{len(FAILURES)} failed: {FAILURES}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
