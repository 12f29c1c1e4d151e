#!/usr/bin/env bash
# Runs every libFuzzer harness (tests/fuzz/fuzz_<target>.c) for a bounded time each:
#   [FUZZ_JOBS=n] scripts/fuzz.sh <build dir> <seconds per target> [target...]
# Up to FUZZ_JOBS targets (default: the number of CPUs) run at once, each a single process.
# Each target starts from its seed corpus (tests/fuzz/corpus/<target>/, read only) and the inputs
# it found in earlier runs (<build dir>/fuzz-corpus/<target>/). A crash, leak, timeout or failed
# invariant is saved as <build dir>/fuzz-findings/<target>/crash-<sha1> (rerun it with
# `<build dir>/fuzz/fuzz_<target> <file>`); the run then fails after the remaining targets.
# Prints executions and findings per target at the end, in target order, and the report of each
# target that failed.
set -uo pipefail
cd "$(dirname "$0")/.."
build=$1; seconds=$2; shift 2
jobs=${FUZZ_JOBS:-$(nproc)}
src=tests/fuzz
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: FUZZ_JOBS must be a positive number, not '$jobs'" >&2; exit 2; }

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$src"/fuzz_*.c; do t=$(basename "$f" .c); targets+=("${t#fuzz_}"); done
fi
for t in "${targets[@]}"; do
  [ -x "$build/fuzz/fuzz_$t" ] || { echo "fuzz: no $build/fuzz/fuzz_$t (make fuzz builds it)" >&2; exit 2; }
done

dict_for() {
  case $1 in
    beat|metadata|selector|ack|grpc) echo "$src/dict/json.dict" ;;
    params|java_numbers) echo "$src/dict/params.dict" ;;
    config) echo "$src/dict/config.dict" ;;
    request|reply|event|subscription|records|peer) echo "$src/dict/msgpack.dict" ;;
    token) echo "$src/dict/token.dict" ;;
  esac
}

results=$build/fuzz-logs/results
rm -rf "$results"
mkdir -p "$results"

# One target, in the background: its log is <build dir>/fuzz-logs/<target>.log, its summary line
# and verdict go to $results/<target>.{summary,failed} for the report below.
run_target() {
  local t=$1 bin=$build/fuzz/fuzz_$1
  local work=$build/fuzz-corpus/$t findings=$build/fuzz-findings/$t log=$build/fuzz-logs/$t.log
  mkdir -p "$work" "$findings"
  local dict marker rc execs found
  dict=$(dict_for "$t")
  marker=$(mktemp)
  # -timeout: one input may take at most 10 s; -rss_limit_mb: 2 GiB; -max_len: 64 KiB inputs
  # (a message or request parameter past the product's limits is refused before parsing).
  "$bin" "$work" "$src/corpus/$t" -max_total_time="$seconds" -print_final_stats=1 \
    -timeout=10 -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$findings/" \
    ${dict:+-dict="$dict"} >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  found=$(find "$findings" -type f -newer "$marker" | wc -l) # this run's; older ones stay
  rm -f "$marker"
  printf '%-14s %12s execs  %3s corpus  %s finding(s)\n' "$t" "${execs:-?}" \
    "$(find "$work" -type f | wc -l)" "$found" >"$results/$t.summary"
  if [ $rc -ne 0 ] || [ "$found" -ne 0 ]; then
    echo "exit $rc, $found finding(s)" >"$results/$t.failed"
  fi
  echo "fuzz: $t done (exit $rc)" >&2
}

running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n # one target ended; its slot goes to the next
    running=$((running - 1))
  fi
  echo "fuzz: $t for ${seconds}s" >&2
  run_target "$t" &
  running=$((running + 1))
done
wait

failed=0
for t in "${targets[@]}"; do
  [ -f "$results/$t.failed" ] || [ ! -f "$results/$t.summary" ] || continue
  failed=1
  log=$build/fuzz-logs/$t.log
  if [ -f "$results/$t.summary" ]; then
    echo "fuzz: $t failed ($(cat "$results/$t.failed")); the report:" >&2
  else
    echo "fuzz: $t did not finish; its log is $log" >&2
  fi
  grep -E -A40 '^==[0-9]+==ERROR|invariant failed|runtime error|SUMMARY' "$log" 2>/dev/null |
    head -60 >&2
done

echo "fuzz: per target (${seconds}s each, up to $jobs at once):"
for t in "${targets[@]}"; do
  cat "$results/$t.summary" 2>/dev/null || printf '%-14s (no summary)\n' "$t"
done
exit $failed
