#!/usr/bin/env bash
# Builds vnuma and runs ALL its tests: unit, integration (real cgroups, libvirtd, ZeroMQ on
# loopback), vm (QEMU guests), package; then the sanitizer build (ASan+UBSan, clang) on the unit
# and integration tests, and each libFuzzer target for a bounded time.
# Usage: scripts/test.sh [--fast]     --fast: only the unit label, no sanitizer/fuzz/vm.
# Env: VNUMA_BUILD_DIR (default build), VNUMA_FUZZ_SECONDS (default 30), VNUMA_JOBS (default nproc).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
build=${VNUMA_BUILD_DIR:-build}
jobs=${VNUMA_JOBS:-$(nproc)}
fuzz_seconds=${VNUMA_FUZZ_SECONDS:-30}
fast=0
[[ ${1:-} == --fast ]] && fast=1

passed=0
failed=0
step() { printf '\n=== %s ===\n' "$*"; }
count() {  # count <log>: add ctest's "N tests failed out of M" to the totals
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$1" | tail -1)
  if [[ -z $line ]]; then failed=$((failed + 1)); return; fi
  local f total
  f=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
  passed=$((passed + total - f))
  failed=$((failed + f))
}
run_ctest() {  # run_ctest <builddir> <logname> [ctest args...]
  local dir=$1 log=$2
  shift 2
  (cd "$dir" && ctest --output-on-failure --no-tests=error "$@") 2>&1 | tee "$dir/$log"
  count "$dir/$log"
}

step "configure + build ($build)"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVNUMA_BUILD_TESTS=ON \
  -DVNUMA_BUILD_BENCH=ON || exit 1
cmake --build "$build" -j "$jobs" || exit 1

if ((fast)); then
  run_ctest "$build" ctest-unit.log -L unit
else
  san=${build}-asan
  step "sanitizer build (clang, ASan+UBSan) + fuzzers ($san)"
  if CC=clang CXX=clang++ cmake -S . -B "$san" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
      -DVNUMA_SANITIZE=ON -DVNUMA_BUILD_FUZZ=ON -DVNUMA_BUILD_BENCH=OFF &&
     cmake --build "$san" -j "$jobs"; then
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      run_ctest "$san" ctest-asan.log -L 'unit|integration' -LE 'vm|package'
    step "fuzzers (${fuzz_seconds}s each)"
    fuzzers=0
    for f in "$san"/fuzz/*/fuzz_*; do
      [[ -x $f && -f $f && $f != *_seeds ]] || continue
      fuzzers=$((fuzzers + 1))
      corpus="$here/fuzz/$(basename "$(dirname "$f")")/corpus"
      work=$(mktemp -d)
      if "$f" -max_total_time="$fuzz_seconds" -print_final_stats=1 "$work" "$corpus" >"$work.log" 2>&1; then
        echo "fuzz $(basename "$f"): ok ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$work.log"))"
        passed=$((passed + 1))
      else
        echo "fuzz $(basename "$f"): FAILED"; tail -40 "$work.log"; failed=$((failed + 1))
      fi
      rm -rf "$work" "$work.log"
    done
    if ((fuzzers == 0)); then echo "no fuzzer was built in $san/fuzz"; failed=$((failed + 1)); fi
  else
    echo "sanitizer build FAILED"; failed=$((failed + 1))
  fi

  step "all tests ($build): unit, integration, package, vm"
  run_ctest "$build" ctest-all.log
fi

echo
echo "tests: $passed passed, $failed failed"
((failed == 0))
