#!/usr/bin/env bash
# A local 3-node development cluster (`make cluster`): nodes on 127.0.0.1, 127.0.0.2 and
# 127.0.0.3 (Linux routes all of 127.0.0.0/8 to loopback), each with the same ports as a
# standalone node, one generated secret in a private directory, and data under that directory.
# Ctrl-C stops every node. Usage: scripts/dev-cluster.sh BUILD_DIR [HTTP_PORT] [DIR] [ADMIN_PORT]
# Each node's role admin listeners are ADMIN_PORT (gateway) .. +4 (grpc) and +10 (pusher) on its
# own address; ADMIN_PORT defaults to 9150.
set -euo pipefail
build_dir=${1:?usage: dev-cluster.sh BUILD_DIR [HTTP_PORT] [DIR] [ADMIN_PORT]}
port=${2:-8848}
dir=${3:-}
admin=${4:-9150}
cairn="$build_dir/bin/cairn"
[ -x "$cairn" ] || { echo "dev-cluster: $cairn is not built" >&2; exit 1; }
umask 077
if [ -z "$dir" ]; then
  dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-cluster-XXXXXX")
fi
mkdir -p "$dir"
chmod 700 "$dir"
secret="$dir/secret"
[ -s "$secret" ] || od -An -vtx1 -N32 /dev/urandom | tr -d ' \n' > "$secret"
members="127.0.0.1:$port,127.0.0.2:$port,127.0.0.3:$port"

pids=()
stopped=0
stop() {
  trap - INT TERM
  [ "$stopped" = 1 ] && return
  stopped=1
  echo "dev-cluster: stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "dev-cluster: stopped; data kept in $dir"
}
trap stop INT TERM

for i in 1 2 3; do
  host="127.0.0.$i"
  "$cairn" run --data-dir "$dir/node$i" \
    --set cluster.members="$members" --set gateway.listen="$host:$port" \
    --set cluster.secret_file="$secret" \
    --set gateway.admin_listen="$host:$admin" --set registry.admin_listen="$host:$((admin + 1))" \
    --set healthcheck.admin_listen="$host:$((admin + 2))" \
    --set replicator.admin_listen="$host:$((admin + 3))" --set grpc.admin_listen="$host:$((admin + 4))" \
    --set pusher.admin_listen="$host:$((admin + 10))" \
    2> "$dir/node$i.log" &
  pids+=("$!")
done
echo "dev-cluster: 3 nodes starting in $dir (logs: $dir/node*.log)"
echo "  members:  $members"
echo "  servers:  curl http://127.0.0.1:$port/nacos/v1/ns/operator/servers"
echo "  status:   $cairn status --data-dir $dir/node1 --set cluster.members=$members"
echo "  Ctrl-C stops all three"
wait -n "${pids[@]}" || true
stop
