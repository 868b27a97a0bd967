#!/usr/bin/env python3
"""Lock-order cycles across translation units: facts exported by the tool (--export-facts) and
by the plugin (facts=DIR), merged by `ipcheck --merge-facts`. Inputs: inputs/lockorder/, a
shared header and one directory of translation units per claim. Each test states its claim."""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys

ARGS = None
FAILURES = []
FLAGS = ["-std=c++20"]


def run(cmd, cwd=None):
    proc = subprocess.run(cmd, cwd=cwd or ARGS.work, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    return proc.returncode, proc.stdout


def expect(claim, condition, output=""):
    if condition:
        print(f"PASS {claim}")
    else:
        print(f"FAIL {claim}\n{output}")
        FAILURES.append(claim)


def sources(group, root=None):
    d = os.path.join(root or ARGS.inputs, group)
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".cpp"))


def export_with_tool(group, facts, *options, root=None):
    return run([ARGS.tool, f"--export-facts={facts}", *options, *sources(group, root), "--", *FLAGS])


def export_with_plugin(group, facts, root=None):
    out = ""
    for source in sources(group, root):
        rc, o = run([ARGS.clang, *FLAGS, "-fsyntax-only", f"-fplugin={ARGS.plugin}",
                     "-Xclang", "-plugin-arg-ipcheck", "-Xclang", f"facts={facts}", source])
        out += o
        if rc != 0:
            return rc, out
    return 0, out


def merge(facts, *options):
    return run([ARGS.tool, f"--merge-facts={facts}", f"--source-root={ARGS.inputs}", *options])


def warnings(output):
    return re.findall(r"^(\S+?):(\d+):(\d+): (?:warning|error): (.*) \[ipc-lock-order\]$", output, re.M)


def notes(output):
    return re.findall(r"^(\S+?):(\d+):(\d+): note: (.*)$", output, re.M)


def facts_dir(name):
    return os.path.join(ARGS.work, name)


def test_cycle_across_three_files():
    facts = facts_dir("cycle_tool")
    rc, out = export_with_tool("cycle", facts)
    files = sorted(os.listdir(facts)) if os.path.isdir(facts) else []
    expect("the tool writes one facts file per unit, named by the file and a hash, and no "
           "temporary file is left",
           rc == 0 and len(files) == 3 and all(re.fullmatch(r"[abc]-[0-9a-f]{16}\.lockorder\.jsonl", f)
                                               for f in files), out + str(files))
    expect("no file of the three reports a cycle on its own", not warnings(out), out)
    rc, out = merge(facts)
    ws = warnings(out)
    expect("the merge finds exactly one cycle, from its least lock, at the acquisition that "
           "closes it through the helper",
           rc == 0 and len(ws) == 1 and ws[0][0] == "cycle/c.cpp" and ws[0][1] == "13"
           and ws[0][3] == "lock order cycle 'Registry::mu' -> 'a_mu' -> 'b_mu' -> 'Registry::mu': "
                           "'a_mu' is acquired through 'audit' while 'mu' is held (potential deadlock)",
           out)
    ns = [(f, int(l), m) for f, l, c, m in notes(out)]
    expect("the notes give all three witnesses: where each edge's first lock was taken and where "
           "the second was taken while it was held, inside the helper too",
           ns == [("cycle/c.cpp", 12, "'mu' is acquired here"),
                  ("cycle/c.cpp", 7, "'a_mu' is acquired here"),
                  ("cycle/a.cpp", 11, "'a_mu' is acquired here"),
                  ("cycle/a.cpp", 12, "'b_mu' is acquired here while 'a_mu' is held"),
                  ("cycle/b.cpp", 5, "'b_mu' is acquired here"),
                  ("cycle/b.cpp", 6, "'r.mu' is acquired here while 'b_mu' is held")], out)
    expect("as clang does, the merge shows each place's line with a caret under the column",
           "\n   13 |   audit();\n      |   ^\n" in out
           and "\n    6 |   std::lock_guard<std::mutex> m(r.mu);\n      |"
               "                               ^\n" in out, out)
    rc, out = merge(facts, "--warnings-as-errors=ipc-lock-order")
    expect("--warnings-as-errors applies to the merge (exit 1)",
           rc == 1 and re.search(r"^cycle/c.cpp:13:3: error: lock order cycle", out, re.M), out)
    rc, out = merge(facts, "--checks=-ipc-lock-order")
    expect("--checks applies to the merge", rc == 0 and not warnings(out), out)

    plugin_facts = facts_dir("cycle_plugin")
    prc, pout = export_with_plugin("cycle", plugin_facts)
    expect("the plugin writes the same facts files as the tool (same names, same content)",
           prc == 0 and sorted(os.listdir(plugin_facts)) == files
           and all(open(os.path.join(facts, f)).read() == open(os.path.join(plugin_facts, f)).read()
                   for f in files), pout)
    _, tool_merge = merge(facts)
    prc, plugin_merge = merge(plugin_facts)
    expect("the merge of the plugin's facts reports the same cycle with the same text",
           prc == 0 and warnings(plugin_merge) and plugin_merge == tool_merge, plugin_merge)

    baseline = os.path.join(ARGS.work, "merge.baseline")
    rc, out = merge(facts, f"--write-baseline={baseline}")
    rc, out = merge(facts, f"--baseline={baseline}", "--warnings-as-errors=*")
    expect("a baseline suppresses a merged cycle", rc == 0 and not warnings(out), out)


def fact_lines(facts):
    """The parsed lines of every facts file of a directory: (headers, edges, takes, calls)."""
    lines = [json.loads(l) for f in sorted(os.listdir(facts))
             for l in open(os.path.join(facts, f)).read().splitlines()]
    headers = [l for l in lines if "format" in l]
    kind = lambda k: [l for l in lines if "format" not in l and l.get("kind", "edge") == k]
    return headers, kind("edge"), kind("take"), kind("call")


def test_consistent_order():
    facts = facts_dir("consistent")
    rc, out = export_with_tool("consistent", facts)
    edges = len(fact_lines(facts)[1])
    rc2, out2 = merge(facts)
    expect("three files taking a_mu, b_mu, Registry::mu in one order export their edges and give "
           "no cycle", rc == 0 and edges == 3 and rc2 == 0 and not warnings(out2), out + out2)


def test_taken_together():
    facts = facts_dir("together")
    rc, out = export_with_tool("together", facts)
    headers, edges, takes, calls = fact_lines(facts)
    rc2, out2 = merge(facts)
    expect("std::scoped_lock(a, b) in one file and std::lock(b, a) in another export no edge "
           "and give no cycle",
           rc == 0 and len(headers) == 2 and all(h["edges"] == 0 for h in headers)
           and not edges and len(takes) == 4 and rc2 == 0 and not warnings(out2),
           out + out2 + json.dumps(headers + edges + takes + calls))


def test_within_one_file_reported_once():
    facts = facts_dir("within")
    rc, out = export_with_tool("within", facts)
    expect("a cycle within one file is reported by that file's check", len(warnings(out)) == 1, out)
    rc, out = merge(facts)
    expect("... and not again by the merge", rc == 0 and not warnings(out), out)
    facts = facts_dir("within_unchecked")
    rc, out = export_with_tool("within", facts, "--checks=-ipc-lock-order")
    rc2, out2 = merge(facts)
    expect("a unit exported with ipc-lock-order disabled leaves its own cycle to the merge",
           not warnings(out) and len(warnings(out2)) == 1, out + out2)
    # Both: the cross-file cycle and a unit's own, exported together.
    both = facts_dir("both")
    export_with_tool("cycle", both)
    export_with_tool("within", both)
    rc, out = merge(both)
    ws = warnings(out)
    expect("with both in one directory the merge reports the cross-file cycle only",
           rc == 0 and len(ws) == 1 and ws[0][0] == "cycle/c.cpp", out)


def test_call_into_another_file():
    facts = facts_dir("calls")
    rc, out = export_with_tool("calls", facts)
    rc2, out2 = merge(facts)
    ws = warnings(out2)
    expect("a lock held while calling a function of another file orders it before what that "
           "function takes: the cycle is found with the call as the witness",
           rc == 0 and not warnings(out) and rc2 == 0 and len(ws) == 1
           and ws[0][:2] == ("calls/d.cpp", "10")
           and ws[0][3] == "lock order cycle 'a_mu' -> 'b_mu' -> 'a_mu': 'b_mu' is acquired through "
                           "'count_under_b' while 'a_mu' is held (potential deadlock)"
           and [(f, int(l), m) for f, l, c, m in notes(out2)] ==
           [("calls/d.cpp", 9, "'a_mu' is acquired here"),
            ("calls/e.cpp", 7, "'b_mu' is acquired here"),
            ("calls/f.cpp", 7, "'b_mu' is acquired here"),
            ("calls/f.cpp", 8, "'a_mu' is acquired here while 'b_mu' is held")], out + out2)
    prc, pout = export_with_plugin("calls", facts_dir("calls_plugin"))
    prc2, pout2 = merge(facts_dir("calls_plugin"))
    expect("... and from the plugin's facts the same", prc == 0 and pout2 == out2, pout + pout2)


def test_named_primitives_meet():
    facts = facts_dir("named")
    rc, out = export_with_tool("named", facts)
    rc2, out2 = merge(facts)
    ws = warnings(out2)
    expect("semaphores opened by the same names in two files are the same locks, whatever the "
           "variables are called",
           rc == 0 and not warnings(out) and len(ws) == 1 and ws[0][:2] == ("named/producer.cpp", "9")
           and ws[0][3].startswith("lock order cycle 'named:/jobs-in' -> 'named:/jobs-out' -> "
                                   "'named:/jobs-in': 'output' is acquired while 'input' is held"),
           out + out2)


def test_unit_local_locks():
    facts = facts_dir("local")
    rc, out = export_with_tool("local", facts)
    rc2, out2 = merge(facts)
    expect("a file's static and anonymous-namespace globals and function locals are its own: the "
           "same names taken the other way in another file form no cycle",
           rc == 0 and rc2 == 0 and not warnings(out) and not warnings(out2)
           and len(os.listdir(facts)) == 2, out + out2)


def test_corrupt_facts():
    good = facts_dir("cycle_tool")
    bad = facts_dir("corrupt")
    shutil.copytree(good, bad)
    # A truncated copy of c's facts under another unit's name: cut in the middle of an edge.
    c_file = next(f for f in os.listdir(bad) if f.startswith("c-"))
    text = open(os.path.join(bad, c_file)).read()
    with open(os.path.join(bad, "cut-0000000000000000.lockorder.jsonl"), "w") as f:
        f.write(text[: len(text.splitlines()[0]) + 40])
    first = text.splitlines()[0]
    with open(os.path.join(bad, "lines-0000000000000000.lockorder.jsonl"), "w") as f:
        f.write(first + "\n")  # The header announces an edge that is not there.
    with open(os.path.join(bad, "old-0000000000000000.lockorder.jsonl"), "w") as f:
        f.write(first.replace('"version":1', '"version":99') + "\n")
    with open(os.path.join(bad, "junk-0000000000000000.lockorder.jsonl"), "w") as f:
        f.write("this is not json\n")
    rc, out = merge(bad)
    expect("a truncated edge is an error naming the file, line and column",
           re.search(r"^\S*cut-0+\.lockorder\.jsonl:2:\d+: error: invalid lock-order facts: "
                     r"a truncated or corrupt line", out, re.M), out)
    expect("a file with fewer lines than its header announces is an error naming the file",
           re.search(r"^\S*lines-0+\.lockorder\.jsonl:\d+: error: invalid lock-order facts: "
                     r"truncated: the header announces 1 edges, \d+ takes and \d+ calls, the file "
                     r"has 0, 0 and 0", out, re.M), out)
    expect("another version is an error that says which version is read",
           re.search(r"^\S*old-0+\.lockorder\.jsonl:1: error: invalid lock-order facts: "
                     r"unsupported version 99 \(this ipcheck reads version 1", out, re.M), out)
    expect("a file that is not facts is an error naming the file and line",
           re.search(r"^\S*junk-0+\.lockorder\.jsonl:1:\d+: error: invalid lock-order facts: "
                     r"the header is not JSON", out, re.M), out)
    ws = warnings(out)
    expect("the merge exits 2 and still reports the cycle of the valid files, once",
           rc == 2 and len(ws) == 1 and ws[0][0] == "cycle/c.cpp", out)
    rc, out = run([ARGS.tool, f"--merge-facts={os.path.join(ARGS.work, 'no-such-dir')}"])
    expect("a facts directory that does not exist is an error (exit 2)",
           rc == 2 and "does not exist" in out, out)


def test_parallel_writers_and_a_reader():
    # A unit with many edges (a large file to write), compiled by four compilers at once into
    # one directory, twice over, while merges read the directory: a reader must only ever see
    # whole files, and no temporary file may be left.
    big = os.path.join(ARGS.work, "big.cpp")
    with open(big, "w") as f:
        f.write("#include <mutex>\n")
        f.write("".join(f"std::mutex m{i};\n" for i in range(40)))
        for k in range(300):
            i, j = k % 40, (k * 7 + 1) % 40
            i, j = min(i, j), max(i, j)
            if i == j:
                continue
            f.write(f"void f{k}() {{ std::lock_guard<std::mutex> a(m{i}); "
                    f"std::lock_guard<std::mutex> b(m{j}); }}\n")
    facts = facts_dir("parallel")
    compile_cmd = [ARGS.clang, *FLAGS, "-fsyntax-only", f"-fplugin={ARGS.plugin}",
                   "-Xclang", "-plugin-arg-ipcheck", "-Xclang", f"facts={facts}", big]
    subprocess.run(compile_cmd, cwd=ARGS.work, check=True)
    merges, bad = 0, []
    for _ in range(2):
        compilers = [subprocess.Popen(compile_cmd, cwd=ARGS.work) for _ in range(4)]
        while any(c.poll() is None for c in compilers):
            rc, out = merge(facts)
            merges += 1
            if rc != 0:
                bad.append(out)
        if any(c.returncode != 0 for c in compilers):
            bad.append("a compile failed")
    left = sorted(os.listdir(facts))
    expect("parallel compiles of one unit replace its facts whole: every merge meanwhile reads "
           "them, one file is left and no temporary",
           not bad and merges > 0 and len(left) == 1 and left[0].endswith(".lockorder.jsonl"),
           f"{merges} merges\n" + "\n".join(bad[:3]) + str(left))


def sarif_of(facts, sarif, root):
    rc, out = run([ARGS.tool, f"--merge-facts={facts}", f"--source-root={root}",
                   f"--export-sarif={sarif}"])
    with open(sarif) as f:
        return rc, out, json.load(f)


def test_sarif():
    sarif = os.path.join(ARGS.work, "merge.sarif")
    rc, out, log = sarif_of(facts_dir("cycle_tool"), sarif, ARGS.inputs)
    problems = []
    req = lambda cond, what: cond or problems.append(what)
    req(log.get("version") == "2.1.0" and "$schema" in log, "version 2.1.0 and $schema")
    runs = log.get("runs", [])
    req(len(runs) == 1, "one run")
    run0 = runs[0] if runs else {}
    rules = run0.get("tool", {}).get("driver", {}).get("rules", [])
    results = run0.get("results", [])
    req(len(results) == 1, "one result")
    res = results[0] if results else {}
    req(res.get("ruleId") == "ipc-lock-order", "ruleId ipc-lock-order")
    index = res.get("ruleIndex")
    req(isinstance(index, int) and 0 <= index < len(rules) and rules[index].get("id") == "ipc-lock-order",
        "ruleIndex points at the rule")
    req(res.get("message", {}).get("text", "").startswith("lock order cycle 'Registry::mu'"), "message.text")
    loc = (res.get("locations") or [{}])[0].get("physicalLocation", {})
    req(loc.get("artifactLocation", {}) == {"uri": "cycle/c.cpp", "uriBaseId": "%SRCROOT%"},
        f"primary artifact relative to %SRCROOT%, got {loc.get('artifactLocation')}")
    req(loc.get("region", {}).get("startLine") == 13, "primary region.startLine")
    fps = res.get("partialFingerprints", {})
    req(isinstance(fps.get("ipcheckFingerprint/v1"), str) and len(fps["ipcheckFingerprint/v1"]) == 32,
        "partialFingerprints")
    flows = res.get("codeFlows", [])
    req(len(flows) == 1, "one codeFlow")
    threads = flows[0].get("threadFlows", []) if flows else []
    req(len(threads) == 3, f"one threadFlow per edge (3), got {len(threads)}")
    files = []
    for t in threads:
        steps = t.get("locations", [])
        req(len(steps) >= 2, "each threadFlow: where the first lock was taken, then the second")
        for step in steps:
            phys = step.get("location", {}).get("physicalLocation", {})
            req(phys.get("artifactLocation", {}).get("uriBaseId") == "%SRCROOT%", "step uriBaseId")
            req(isinstance(phys.get("region", {}).get("startLine"), int)
                and phys["region"]["startLine"] >= 1, "step region.startLine")
            req(step.get("location", {}).get("message", {}).get("text"), "step message")
        files.append({s["location"]["physicalLocation"]["artifactLocation"]["uri"] for s in steps})
    req(files == [{"cycle/c.cpp"}, {"cycle/a.cpp"}, {"cycle/b.cpp"}],
        f"the threadFlows are the edges in order (c, a, b), got {files}")
    if threads:
        first = [s["location"]["message"]["text"] for s in threads[0]["locations"]]
        req(first == ["'mu' is acquired here", res.get("message", {}).get("text"), "'a_mu' is acquired here"],
            f"flow 0 holds the finding itself at the call of the helper: {first}")
    related = res.get("relatedLocations", [])
    req(len(related) == 6 and [r.get("id") for r in related] == list(range(6)), "relatedLocations with ids")
    expect("the merge's SARIF has one result with a threadFlow per edge and GitHub's required fields",
           rc == 0 and not problems, "\n".join(problems) + "\n" + json.dumps(log, indent=1)[:4000])

    # The same sources two lines lower, in another checkout: the fingerprint stays.
    moved_root = os.path.join(ARGS.work, "moved")
    shutil.rmtree(moved_root, ignore_errors=True)
    shutil.copytree(ARGS.inputs, moved_root)
    for name in ("a.cpp", "c.cpp"):
        path = os.path.join(moved_root, "cycle", name)
        text = open(path).read()
        with open(path, "w") as f:
            f.write("// moved\n\n" + text)
    moved_facts = facts_dir("cycle_moved")
    export_with_tool("cycle", moved_facts, root=moved_root)
    rc, out, moved = sarif_of(moved_facts, os.path.join(ARGS.work, "moved.sarif"), moved_root)
    res2 = moved["runs"][0]["results"]
    expect("the merged cycle's fingerprint does not depend on line numbers or the checkout's place",
           len(res2) == 1 and res2[0]["partialFingerprints"] == fps
           and res2[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 15,
           json.dumps(res2, indent=1)[:2000])


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    for name in ("tool", "plugin", "clang", "inputs", "work"):
        parser.add_argument(f"--{name}", required=True)
    ARGS = parser.parse_args()
    shutil.rmtree(ARGS.work, ignore_errors=True)
    os.makedirs(ARGS.work)
    for test in (test_cycle_across_three_files, test_consistent_order, test_taken_together,
                 test_within_one_file_reported_once, test_call_into_another_file,
                 test_named_primitives_meet, test_unit_local_locks, test_corrupt_facts, test_parallel_writers_and_a_reader,
                 test_sarif):
        test()
    if FAILURES:
        print(f"{len(FAILURES)} failed: {FAILURES}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
