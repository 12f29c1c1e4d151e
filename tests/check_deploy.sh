#!/usr/bin/env bash
# The deployment files name only configuration keys that exist, and the compose file is valid
# YAML with the cluster every node needs: every `--set key=` in deploy/ (compose file, systemd
# units, Dockerfile) and every `key = value` line of cairn.conf.example (commented or not, under
# its [section]) must be a key of `cairn config-reference`.
#   check_deploy.sh CAIRN_BINARY DEPLOY_DIR
set -euo pipefail
cairn=$1 deploy=$2
keys=$("$cairn" config-reference | sed -n 's/^| `\([a-z_.]*\)` .*/\1/p')
[ -n "$keys" ] || { echo "check_deploy: no keys from config-reference" >&2; echo "0 passed, 1 failed"; exit 1; }
bad=0
check_key() { # key where
  grep -qxF "$1" <<<"$keys" || { echo "check_deploy: $2 names '$1', which is no configuration key" >&2; bad=1; }
}
while IFS=: read -r file key; do
  check_key "$key" "$file"
done < <(grep -oH -- '--set[ "=,]*[a-z_]*\.[a-z_.]*=' "$deploy"/docker-compose.yml "$deploy"/Dockerfile \
           "$deploy"/systemd/*.service | sed 's/--set[ "=,]*//; s/=$//')
# compose's list form puts the key on the line after `- --set`
while IFS= read -r key; do
  check_key "$key" docker-compose.yml
done < <(awk '/- --set$/ {getline; sub(/^[ \t]*- */, ""); sub(/=.*/, ""); print}' "$deploy"/docker-compose.yml)
section=""
while IFS= read -r line; do
  case $line in
    \[*\]) section=${line#[}; section=${section%]} ;;
    *) key=$(sed -n 's/^#\? \?\([a-z_]*\) = .*/\1/p' <<<"$line")
       [ -z "$key" ] || check_key "$section.$key" cairn.conf.example ;;
  esac
done <"$deploy"/cairn.conf.example
# The compose file: YAML, three nodes, each with the same members and a secret file.
python3 - "$deploy"/docker-compose.yml <<'PY' || bad=1
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
nodes = {n: s for n, s in doc["services"].items() if n.startswith("cairn")}
assert len(nodes) == 3, f"expected three nodes, found {sorted(nodes)}"
members = set()
for name, svc in nodes.items():
    args = svc.get("command") or []
    sets = dict(a.split("=", 1) for a in args if "=" in a)
    assert "cluster.members" in sets and "cluster.secret_file" in sets, f"{name}: no cluster keys"
    members.add(sets["cluster.members"])
    assert any(v.endswith(":ro") and ":" + sets["cluster.secret_file"].rsplit("/", 1)[0] in v
               for v in svc.get("volumes", [])), f"{name}: the secret is not mounted read-only"
assert len(members) == 1, f"the nodes list different members: {members}"
assert {m.split(":")[0] for m in members.pop().split(",")} == set(nodes), "members are not the nodes"
PY
if [ "$bad" != 0 ]; then echo "0 passed, 1 failed"; exit 1; fi
echo "1 passed, 0 failed"
