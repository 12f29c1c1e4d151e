#!/usr/bin/env bash
# Configures a CMake build directory: scripts/configure.sh <build dir> [cmake -D options...]
# Runs on every make command (a no-op when nothing changed). A directory that does not configure
# (a cache from an interrupted run, another source path, an older toolchain) is configured once
# more from scratch before the error is shown, so an earlier failure never wedges a later command.
set -uo pipefail
dir=$1; shift
log=$(mktemp)
trap 'rm -f "$log"' EXIT

if cmake -S . -B "$dir" "$@" >"$log" 2>&1; then
  grep -E 'CMake (Warning|Error)' -A4 "$log" || true # say what CMake warned about, nothing else
  exit 0
fi
if [ -f "$dir/CMakeCache.txt" ]; then
  echo "configure: $dir did not configure; configuring it from scratch" >&2
  rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
  cmake -S . -B "$dir" "$@" >"$log" 2>&1 && exit 0
fi
cat "$log" >&2
echo "configure: cmake failed for $dir (the lines above say why)" >&2
exit 1
