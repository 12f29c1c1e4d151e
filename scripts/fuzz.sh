#!/usr/bin/env bash
# Runs every libFuzzer harness (tests/fuzz/fuzz_<target>.c) for a bounded time each:
#   scripts/fuzz.sh <build dir> <seconds per target> [target...]
# Each target starts from its seed corpus (tests/fuzz/corpus/<target>/, read only) and the inputs
# it found in earlier runs (<build dir>/fuzz-corpus/<target>/). A crash, leak, timeout or failed
# invariant is saved as <build dir>/fuzz-findings/<target>/crash-<sha1> (rerun it with
# `<build dir>/fuzz/fuzz_<target> <file>`); the run then fails after the remaining targets.
# Prints executions and findings per target at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
build=$1; seconds=$2; shift 2
src=tests/fuzz

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$src"/fuzz_*.c; do t=$(basename "$f" .c); targets+=("${t#fuzz_}"); done
fi

dict_for() {
  case $1 in
    beat|metadata|selector|ack|grpc) echo "$src/dict/json.dict" ;;
    params|java_numbers) echo "$src/dict/params.dict" ;;
    config) echo "$src/dict/config.dict" ;;
    request|reply|event|subscription|records) echo "$src/dict/msgpack.dict" ;;
  esac
}

summary=() failed=0
for t in "${targets[@]}"; do
  bin=$build/fuzz/fuzz_$t
  [ -x "$bin" ] || { echo "fuzz: no $bin (make fuzz builds it)" >&2; exit 2; }
  work=$build/fuzz-corpus/$t findings=$build/fuzz-findings/$t log=$build/fuzz-logs/$t.log
  mkdir -p "$work" "$findings" "$(dirname "$log")"
  dict=$(dict_for "$t")
  echo "fuzz: $t for ${seconds}s" >&2
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
  summary+=("$(printf '%-14s %12s execs  %3s corpus  %s finding(s)' "$t" "${execs:-?}" \
    "$(find "$work" -type f | wc -l)" "$found")")
  if [ $rc -ne 0 ] || [ "$found" -ne 0 ]; then
    failed=1
    echo "fuzz: $t failed (exit $rc); the report:" >&2
    grep -E -A40 '^==[0-9]+==ERROR|invariant failed|runtime error|SUMMARY' "$log" | head -60 >&2
  fi
done

printf '%s\n' "fuzz: per target (${seconds}s each):" "${summary[@]}"
exit $failed
