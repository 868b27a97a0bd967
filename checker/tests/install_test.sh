#!/bin/sh
# Installs the project into a scratch prefix, then checks that the installed tool and plugin
# find the tables relative to themselves, and that ipcheck_enable() from the installed package
# (find_package(ipcheck)) adds the plugin to a consumer's build.
#   install_test.sh BUILD_DIR SOURCE_DIR WORK_DIR CLANGXX
set -eu
build=$1 src=$2 work=$3 clangxx=$4
rm -rf "$work" && mkdir -p "$work"
prefix=$work/prefix
fail() { echo "FAIL $*"; exit 1; }
cmake --install "$build" --prefix "$prefix" >/dev/null 2>&1 ||
  fail "the project installs (every target of the build must be built first)"
libdir=$(cd "$prefix" && ls -d lib* | head -1)
test -x "$prefix/bin/ipcheck" || fail "the tool is installed to bin/"
test -f "$prefix/$libdir/ipcheck-plugin.so" || fail "the plugin is installed to $libdir/"
test -f "$prefix/share/ipcheck/api/mp.yaml" || fail "the tables are installed to share/ipcheck/api"
test -f "$prefix/$libdir/cmake/ipcheck/ipcheckPlugin.cmake" || fail "ipcheckPlugin.cmake is installed"
echo "PASS install layout"

# Copied away from the source tree: the installed tool must use the installed tables.
cp "$src/checker/tests/inputs/findings.cpp" "$work/findings.cpp"
out=$("$prefix/bin/ipcheck" "$work/findings.cpp" -- -std=c++20 -I "$src/corpus/checks/include" 2>&1) || true
echo "$out" | grep -q "ipc-check-then-act" || fail "installed tool finds its tables: $out"
cp "$prefix/share/ipcheck/api/mp.yaml" "$work/mp.yaml.orig"
sed -i 's/empty/qsize/' "$prefix/share/ipcheck/api/mp.yaml"
out=$("$prefix/bin/ipcheck" "$work/findings.cpp" -- -std=c++20 -I "$src/corpus/checks/include" 2>&1) || true
echo "$out" | grep -q "ipc-check-then-act" && fail "the installed tool reads share/ipcheck/api, not the source tree"
echo "PASS installed tool uses share/ipcheck/api"
# The rest uses the tables as installed.
cp "$work/mp.yaml.orig" "$prefix/share/ipcheck/api/mp.yaml"
out=$("$clangxx" -std=c++20 -fsyntax-only -fplugin="$prefix/$libdir/ipcheck-plugin.so" \
  -I "$src/corpus/checks/include" "$work/findings.cpp" 2>&1) || true
echo "$out" | grep -q "ipc-nonatomic-update" || fail "installed plugin runs: $out"
echo "PASS installed plugin"

# ipcheck_enable in a consumer project.
proj=$work/project
cp -r "$src/checker/tests/enable_project" "$proj"
cp "$src/checker/tests/inputs/clean.cpp" "$src/checker/tests/inputs/findings.cpp" "$proj/"
cmake -S "$proj" -B "$proj/build" -DCMAKE_CXX_COMPILER="$clangxx" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCORPUS_INCLUDE="$src/corpus/checks/include" >/dev/null || fail "consumer project configures"
cmake --build "$proj/build" --target clean_code >/dev/null 2>&1 || fail "a clean target builds with the plugin"
ls "$proj/build/ipcheck-facts"/clean-*.lockorder.jsonl >/dev/null 2>&1 ||
  fail "FACTS_DIR makes each source write its lock-order facts"
"$prefix/bin/ipcheck" --merge-facts="$proj/build/ipcheck-facts" >/dev/null 2>&1 ||
  fail "the installed tool merges the facts of the build"
if out=$(cmake --build "$proj/build" --target findings_code 2>&1); then
  fail "findings as errors fail the consumer's build: $out"
fi
echo "$out" | grep -q "error: non-atomic update of 'v'" || fail "the build reports the finding: $out"
echo "$out" | grep -q "ipc-check-then-act" && fail "CHECKS selects checks: $out"
echo "PASS ipcheck_enable"
