#!/usr/bin/env bash
# The README's configuration table must be exactly what `cairn config-reference` prints, so the
# documentation cannot drift from the code. Fix with scripts/update-readme-config.sh.
set -euo pipefail
cairn=$1 readme=$2
want=$("$cairn" config-reference)
have=$(sed -n '/<!-- config-reference:start -->/,/<!-- config-reference:end -->/p' "$readme" | sed '1d;$d')
if [ "$want" != "$have" ]; then
  echo "README.md configuration table differs from 'cairn config-reference':" >&2
  diff <(echo "$have") <(echo "$want") >&2 || true
  echo "run scripts/update-readme-config.sh" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
echo "1 passed, 0 failed"
