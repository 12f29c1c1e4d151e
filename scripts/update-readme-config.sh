#!/usr/bin/env bash
# Rewrites the configuration table in README.md from the one reference table in the code
# (`cairn config-reference`). tests/check_readme_config.sh fails the suite when they differ.
#   scripts/update-readme-config.sh [path/to/cairn]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cairn=${1:-$top/build/bin/cairn}
table=$("$cairn" config-reference)
TABLE="$table" python3 - "$top/README.md" <<'PY'
import os, re, sys
path = sys.argv[1]
text = open(path).read()
start, end = '<!-- config-reference:start -->', '<!-- config-reference:end -->'
new = f"{start}\n{os.environ['TABLE'].rstrip()}\n{end}"
text, n = re.subn(re.escape(start) + '.*?' + re.escape(end), lambda m: new, text, flags=re.S)
if n != 1:
    sys.exit('README.md has no config-reference markers')
open(path, 'w').write(text)
PY
