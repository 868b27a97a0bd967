#!/bin/sh
# Builds the Debian package with CPack, unpacks it into a scratch root, and checks that it holds
# the tool, the plugin, the runtime library and headers, the harness, the API tables and the
# CMake package, and that the unpacked tool lints a file with its own tables.
#   deb_package_test.sh BUILD_DIR SOURCE_DIR WORK_DIR
set -eu
build=$1 src=$2 work=$3
fail() { echo "FAIL $*"; exit 1; }
rm -rf "$work" && mkdir -p "$work"
(cd "$work" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/out" >"$work/cpack.log" 2>&1) ||
  { cat "$work/cpack.log"; fail "cpack -G DEB"; }
deb=$(ls "$work"/out/ipcheck_*.deb 2>/dev/null | head -1)
test -n "$deb" || fail "no ipcheck_*.deb in $work/out"
echo "PASS cpack made $(basename "$deb")"

dpkg-deb --field "$deb" Depends | grep -q "libllvm19" || fail "Depends names LLVM 19"
root=$work/root
dpkg-deb -x "$deb" "$root"
libdir=$(cd "$root/usr" && ls -d lib* | head -1)
for f in bin/ipcheck "$libdir/ipcheck-plugin.so" "$libdir/libmp.a" "$libdir/libproptest.a" \
         include/mp/process.h include/mp/synchronize.h include/ipcheck/proptest/runner.h \
         include/mp/models/lock.h share/ipcheck/api/mp.yaml share/ipcheck/api/posix.yaml \
         "$libdir/cmake/ipcheck/ipcheckConfig.cmake" "$libdir/cmake/ipcheck/ipcheckPlugin.cmake"; do
  test -e "$root/usr/$f" || fail "the package holds usr/$f"
done
echo "PASS package layout"

cp "$src/checker/tests/inputs/findings.cpp" "$work/findings.cpp"
status=0
out=$("$root/usr/bin/ipcheck" "$work/findings.cpp" -- -std=c++20 -I "$src/corpus/checks/include" 2>&1) ||
  status=$?
echo "$out" | grep -q "\[ipc-check-then-act\]" || fail "the unpacked tool reports findings: $out"
test "$status" -eq 0 || fail "warnings alone exit 0, got $status"
"$root/usr/bin/ipcheck" --version | grep -qi "ipcheck" || fail "ipcheck --version"
echo "PASS the unpacked tool lints a file"
