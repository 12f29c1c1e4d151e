#!/usr/bin/env bash
# Compatibility suite: the npm Nacos client against real Cairn nodes, and the operator console in
# headless Chromium (console.test.js, driven with chrome-remote-interface).
#   tests/compat/run.sh <bin dir>      (ctest runs it with build/bin; works from any directory)
# Installs the pinned client (package-lock.json) when node_modules is missing or older than the
# lock file, then runs every *.test.js with node's built-in test runner, one file at a time.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 <directory holding cairn, cairn-gateway, cairn-registry>" >&2
  exit 2
fi
bin_dir=$(cd "$1" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "compat: $tool not found (scripts/install-deps.sh test installs it)" >&2
    exit 1
  }
done

# Our own marker, touched after a successful install: npm ci recreates node_modules, so a lock file
# newer than the marker means the installed tree is stale.
marker=node_modules/.cairn-installed
if [ ! -f "$marker" ] || [ package-lock.json -nt "$marker" ] || [ package.json -nt "$marker" ]; then
  npm ci --no-audit --no-fund
  touch "$marker"
fi

shopt -s nullglob
tests=("$here"/*.test.js)
if [ ${#tests[@]} -eq 0 ]; then
  echo "compat: no *.test.js in $here" >&2
  exit 1
fi

export CAIRN_BIN_DIR="$bin_dir"
# Debian 12 ships Node 18, which lacks --test-concurrency and --test-timeout (Node >= 20.11 has
# both); there the suite's own per-test timeouts apply and files may run side by side (one per
# CPU but one), which they can: each picks its own free ports.
flags=(--test --test-reporter=spec)
if node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=11)?0:1)'; then
  flags+=(--test-concurrency=1 --test-timeout=180000)
fi
exec node "${flags[@]}" "${tests[@]}"
