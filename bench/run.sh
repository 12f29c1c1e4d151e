#!/usr/bin/env bash
# Cairn's benchmark (`make bench`, `make bench QUICK=1`): starts nodes with production timings,
# runs each workload for a bounded time against Cairn and against a baseline measured in the same
# run, and prints one table. Growth (RSS and list latency as instances are added) is a second
# table and a chart; a three-node cluster's visibility latency and raft failover a third
# (bench/cluster.sh, which also adds the cluster's rows to the first: ephemeral register against
# one node, persistent writes against a three-member etcd). Everything listens on 127.0.0.1-3.
#
#   bench/run.sh [--quick] [--build-dir DIR] [--write-docs]
#     --quick        shorter runs, growth up to 100k instances (under 3 minutes on 2 cores)
#     --build-dir    where the role binaries (bin/) and bench tools (bench/) are (build-bench)
#     --write-docs   put the results into docs/performance.md and docs/perf-growth.png
#     --only grpc    only the gRPC workloads (bench/grpc.sh); not with --write-docs
#     --only cluster only the three-node cluster and etcd (bench/cluster.sh); not with --write-docs
# Environment: BENCH_CONNECTIONS (32) keep-alive connections of every HTTP and gRPC load;
# BENCH_GRPC_IDLE_CONNS (10000) idle gRPC connections whose memory is measured;
# BENCH_PERSIST_CONNECTIONS (64) those of the cluster's persistent writes and etcd's;
# BENCH_CLUSTER_PERSIST_ONLY=1 with --only cluster: only those persistent writes.
#
# Needs wrk, etcd, gnuplot, curl and taskset: scripts/install-deps.sh bench.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build-bench
QUICK=0
WRITE_DOCS=0
ONLY=""
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1 ;;
    --write-docs) WRITE_DOCS=1 ;;
    --build-dir) BUILD=$(cd "$2" && pwd); shift ;;
    --only) ONLY=$2; shift ;;
    *) echo "usage: bench/run.sh [--quick] [--build-dir DIR] [--write-docs] [--only grpc|cluster]" >&2; exit 2 ;;
  esac
  shift
done
case $ONLY:$WRITE_DOCS in
  :*|grpc:0|cluster:0) ;;
  *) echo "bench: --only grpc or --only cluster, and not with --write-docs (the docs hold a whole run)" >&2; exit 2 ;;
esac

BIN=$BUILD/bin
TOOLS=$BUILD/bench
export BENCH_LUA_DIR=$ROOT/bench/lua
OUT=$BUILD/bench-results
LOGS=$OUT/logs
CONNS=${BENCH_CONNECTIONS:-32}
UA="Nacos-Java-Client:v1.4.1"
# Each comparison alternates Cairn and its baseline in SLICES slices of SLICE seconds.
if [ "$QUICK" = 1 ]; then
  SLICES=3 SLICE=1 PROBE_DURATION=1 PUSH_ROUNDS=5 GROWTH_STEPS="1000 10000 100000"
else
  SLICES=5 SLICE=2 PROBE_DURATION=3 PUSH_ROUNDS=20 GROWTH_STEPS="1000 10000 100000 1000000"
fi
BEAT_INSTANCES=100000
# Long enough for one pass of beats over every instance at the uncached rate (about 20k/s).
BEAT_WARM_UP_SECONDS=8
PUSH_SUBSCRIBERS=1000

for tool in wrk etcd gnuplot curl taskset; do
  command -v $tool >/dev/null || { echo "bench: $tool is missing (scripts/install-deps.sh bench)" >&2; exit 1; }
done
for exe in "$BIN/cairn" "$TOOLS/cairn-bench-http" "$TOOLS/cairn-bench-push" "$TOOLS/cairn-bench-freeport" \
           "$TOOLS/cairn-bench-cluster"; do
  [ -x "$exe" ] || { echo "bench: $exe is not built (make bench builds it)" >&2; exit 1; }
done

# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"
# shellcheck source=bench/grpc.sh
. "$ROOT/bench/grpc.sh"
# shellcheck source=bench/cluster.sh
. "$ROOT/bench/cluster.sh"

mkdir -p "$OUT" "$LOGS"
rm -f "$LOGS"/*
WORK=$(mktemp -d /tmp/cairn-bench.XXXXXX)
RESULTS=$OUT/results.tsv
GROWTH=$OUT/growth.tsv
: >"$RESULTS"
: >"$GROWTH"
GRPC_CONNS_TSV=$OUT/grpc-conns.tsv
: >"$GRPC_CONNS_TSV"
CLK_TCK=$(getconf CLK_TCK)
START_S=$(date +%s)
trap 'cluster_cleanup; cleanup' EXIT
trap 'exit 130' INT TERM
place_cpus

# An HTTP workload against Cairn and against the responder serving the bytes Cairn answered:
# name title path script body_file content_type [-- script args]
http_pair() {
  local name=$1 title=$2 path=$3 script=$4 body=$5 type=$6; shift 6
  WL_PATH=$path WL_SCRIPT=$script WL_ARGS=("$@")
  start_baseline_http "$body" "$type"
  cpu_track cairn "$(role_pids)"
  cpu_track base "responder $BASE_PID"
  alternate "$name" http_cairn_slice http_base_slice
  stop_baseline
  record "$name" "$title" "HTTP responder, same bytes"
}
# Registrations must be new in every slice: each slice numbers its instances from its own start.
slice_args() { # slice_file
  local i=${1%.wrk}
  i=${i##*.}
  if [ "$WL_SCRIPT" = register.lua ]; then echo "start=$(( i * 10000000 ))"; fi
}
http_cairn_slice() {
  run_wrk "$1" "http://$GW/$WL_PATH" "$WL_SCRIPT" "$SLICE" "$CONNS" "${WL_ARGS[@]}" $(slice_args "$1")
}
http_base_slice() {
  run_wrk "$1" "http://$BASE_ADDR/$WL_PATH" "$WL_SCRIPT" "$SLICE" "$CONNS" "${WL_ARGS[@]}" $(slice_args "$1")
}

# ================================================================= node A: reads, push, register
LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)
log "$(date -u '+%F %T') UTC, $NCPU CPUs ($PLACEMENT), $CONNS connections, $SLICES x ${SLICE}s slices per side, load average $LOAD_BEFORE"
if [ -z "$ONLY" ]; then
start_node main

# GET instance/list of a 10-instance and a 1000-instance service.
for n in 10 1000; do
  fill "list$n" "bench-list$n" 1 0 "$n" "$(( $(registry_metric cairn_registry_instances) + n ))"
  path="nacos/v1/ns/instance/list?serviceName=bench-list$n-0"
  capture "http://$GW/$path" "$WORK/list$n.json" || die "list of bench-list$n-0: $CAPTURE_ERROR"
  bytes=$(stat -c %s "$WORK/list$n.json")
  http_pair "list$n" "list, $(grp "$n") instances ($(( (bytes + 512) / 1024 )) KB)" "$path" get.lua \
    "$WORK/list$n.json" "$(cat "$WORK/list$n.json.type")"
done

# Push fan-out: one change, 1000 UDP subscribers; the baseline sender gets the same list document.
fill push bench-push 1 0 10 "$(( $(registry_metric cairn_registry_instances) + 10 ))"
capture "http://$GW/nacos/v1/ns/instance/list?serviceName=bench-push-0" "$WORK/push-doc.json" \
  || die "list of bench-push-0: $CAPTURE_ERROR"
push_title="push fan-out, $(grp "$PUSH_SUBSCRIBERS") subscribers"
# One run of the push tool alternates Cairn's rounds and the baseline's on the same 1000 sockets
# (fresh sockets per slice would leave stale subscribers in the pusher); the node is stopped
# during the baseline's rounds.
cpu_track cairn "$(role_pids)"
cpu_resume cairn
"${PIN_LOAD[@]}" "$TOOLS/cairn-bench-push" --gateway "$GW" --service bench-push-0 \
  --baseline "$WORK/push-doc.json" --subscribers "$PUSH_SUBSCRIBERS" --rounds "$PUSH_ROUNDS" \
  --round-timeout-ms 3000 ${SERVER_CPUS:+--sender-cpus "$SERVER_CPUS"} \
  --freeze-pids "$(echo $NODE_PID $(role_pids | awk '{print $2}') | tr ' ' ',')" \
  >"$LOGS/push.out" 2>&1 || die "push tool failed: $(tail -3 "$LOGS/push.out")"
cpu_pause cairn
grep '^BENCH side=cairn ' "$LOGS/push.out" >"$LOGS/push.wrk" || true
grep '^BENCH side=baseline ' "$LOGS/push.out" >"$LOGS/push-base.wrk" || true
received=$(bench_field "$LOGS/push.wrk" received)
if [ "${received:-0}" = 0 ]; then
  if role_names | grep -q '^pusher'; then why="no push received"; else why="no pusher role"; fi
  na_row "$push_title" "$why" "UDP sender, same datagram"
else
  # CPU over Cairn's rounds only; the listeners' CPU serves both sides, so no load figure.
  SIDE_NS[cairn]=$(bench_field "$LOGS/push.wrk" busy_ns) SIDE_LOAD[cairn]=""
  cpu_track base ""
  SIDE_LOAD[base]=""
  expected=$(bench_field "$LOGS/push.wrk" expected)
  note=""
  [ "$received" = "$expected" ] || note="$received of $expected pushes arrived within 3 s"
  record push "$push_title" "UDP sender, same datagram" "$note" "$(bench_field "$LOGS/push.wrk" ratio)"
fi

# Register distinct ephemeral instances (last on this node: it leaves many behind).
printf ok >"$WORK/ok.txt"
http_pair register "register, ephemeral" "" register.lua "$WORK/ok.txt" \
  "text/plain;charset=UTF-8" -- threads="$WRK_THREADS" conns="$CONNS" prefix=bench-reg
stop_node

# ================================================================= node B: persistent register vs etcd
# Both run side by side; the node is stopped while etcd is loaded, etcd idles while Cairn is.
start_node persist
read -r P1 P2 <<<"$("$TOOLS/cairn-bench-freeport" 2 | tr '\n' ' ')"
etcd_version=$(etcd --version | sed -n 's/^etcd Version: //p')
"${PIN_SERVER[@]}" etcd --name bench --data-dir "$WORK/etcd" \
  --listen-client-urls "http://127.0.0.1:$P1" --advertise-client-urls "http://127.0.0.1:$P1" \
  --listen-peer-urls "http://127.0.0.1:$P2" --initial-advertise-peer-urls "http://127.0.0.1:$P2" \
  --initial-cluster "bench=http://127.0.0.1:$P2" --initial-cluster-state new \
  >"$LOGS/etcd.log" 2>&1 &
ETCD_PID=$!
limit=$(( $(date +%s) + 30 ))
until curl -fsS "http://127.0.0.1:$P1/health" 2>/dev/null | grep -q '"health":"true"'; do
  kill -0 "$ETCD_PID" 2>/dev/null && [ "$(date +%s)" -lt "$limit" ] || die "etcd did not start; see $LOGS/etcd.log"
  sleep 0.1
done
# Each slice registers new instances, as each etcd slice puts new keys.
WL_SCRIPT=register.lua
persist_cairn_slice() {
  run_wrk "$1" "http://$GW/" register.lua "$SLICE" "$CONNS" -- threads="$WRK_THREADS" \
    conns="$CONNS" prefix=bench-persist ephemeral=false "$(slice_args "$1")"
}
etcd_slice() {
  run_wrk "$1" "http://127.0.0.1:$P1/v3/kv/put" etcd_put.lua "$SLICE" "$CONNS" -- \
    threads="$WRK_THREADS" "$(slice_args "$1")"
}
cpu_track cairn "$(role_pids)"
cpu_track base "etcd $ETCD_PID"
alternate persist persist_cairn_slice etcd_slice
record persist "register, persistent (synced)" "etcd $etcd_version put (synced)"
stop_pid "$ETCD_PID"; ETCD_PID=""
stop_node

# ================================================================= node C: growth, and beats
start_node grow
fill probe bench-probe 1 0 10 10
prev=0
for n in $GROWTH_STEPS; do
  fill "grow$n" bench-grow 1000 "$prev" "$(( n - prev ))" "$(( n + 10 ))"
  log "growth: $(grp "$n") instances registered (${FILL_SECONDS}s)"
  prev=$n
  rss=$(role_pids | while read -r name pid; do
          echo "$name $(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)"
        done | awk '{t[$1] += $2} END {printf "%d %d %d %d", t["registry"], t["gateway"], t["healthcheck"], t["pusher"]}')
  read -r rss_reg rss_gw rss_hc rss_push <<<"$rss"
  store=$(registry_metric cairn_registry_lmdb_used_bytes)
  run_wrk "$LOGS/probe$n.wrk" "http://$GW/nacos/v1/ns/instance/list?serviceName=bench-probe-0" get.lua "$PROBE_DURATION" 1
  run_wrk "$LOGS/grown$n.wrk" "http://$GW/nacos/v1/ns/instance/list?serviceName=bench-grow-0" get.lua "$PROBE_DURATION" 1
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$rss_reg" "$rss_gw" "${store:-0}" \
    "$(bench_field "$LOGS/probe$n.wrk" p50_us)" "$(bench_field "$LOGS/probe$n.wrk" p99_us)" \
    "$(( n / 1000 ))" "$(bench_field "$LOGS/grown$n.wrk" p50_us)" "$(bench_field "$LOGS/grown$n.wrk" p99_us)" \
    "$rss_hc" "$rss_push" >>"$GROWTH"

  if [ "$n" = "$BEAT_INSTANCES" ]; then
    # Light beats spread over the 100 000 registered instances, in the steady state of a fleet
    # that beats every 5 s: each instance has beaten before, so the gateway keeps its answer
    # (gateway.beat_cache_max_age_ms). One pass over all of them first, not measured.
    beat_title="beat, light, $(grp "$BEAT_INSTANCES") instances"
    if capture "http://$GW/nacos/v1/ns/instance/beat?serviceName=bench-grow-0&ip=127.1.1.1&port=10000" \
         "$WORK/beat.json" PUT; then
      run_wrk "$LOGS/beat-warm-up.wrk" "http://$GW/" beat.lua "$BEAT_WARM_UP_SECONDS" "$CONNS" \
        -- threads="$WRK_THREADS" count="$BEAT_INSTANCES" services=1000 prefix=bench-grow
      http_pair beat "$beat_title" "" beat.lua "$WORK/beat.json" "$(cat "$WORK/beat.json.type")" \
        -- threads="$WRK_THREADS" count="$BEAT_INSTANCES" services=1000 prefix=bench-grow
    else
      na_row "$beat_title" "a beat got $CAPTURE_ERROR" "HTTP responder, same bytes"
    fi
  fi
done
stop_node
fi # ONLY

# ================================================================= node D: gRPC
[ "$ONLY" = cluster ] || grpc_workloads

# ================================================================= a 3-node cluster, 3-member etcd
[ "$ONLY" = grpc ] || cluster_run

# ================================================================= report
RUN_SECONDS=$(( $(date +%s) - START_S ))
MACHINE="$(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)), $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) memory, Linux $(uname -r)"
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git -C "$ROOT" status --porcelain 2>/dev/null | head -n1)" ] || COMMIT="$COMMIT + uncommitted changes"
FS=$(df -T "$WORK" | awk 'NR == 2 {print $2}')
QUICK_NOTE=""
[ "$QUICK" = 0 ] || QUICK_NOTE=" (QUICK)"
HEADER="$(date -u '+%F %H:%M') UTC, $MACHINE, data on $FS; $PLACEMENT; $CONNS connections; Cairn and baseline alternate in $SLICES slices of ${SLICE}s each${QUICK_NOTE}; load average $LOAD_BEFORE before, $(cut -d' ' -f1 /proc/loadavg) after; Cairn $COMMIT, roles: $ROLES"

"$ROOT/bench/report.sh" text "$RESULTS" "$GROWTH" "$GRPC_CONNS_TSV" "$CLUSTER" >"$OUT/table.txt"
# the growth chart needs the growth rows, which --only runs do not measure
[ -n "$ONLY" ] || gnuplot -e "data='$GROWTH'; out='$OUT/perf-growth.png'" "$ROOT/bench/growth.gp" \
  2>"$LOGS/gnuplot.log" || log "gnuplot failed: $(tail -2 "$LOGS/gnuplot.log")"
if [ "$WRITE_DOCS" = 1 ]; then
  "$ROOT/bench/report.sh" markdown "$RESULTS" "$GROWTH" "$HEADER" "$GRPC_CONNS_TSV" "$CLUSTER" >"$OUT/results.md"
  "$ROOT/bench/report.sh" splice "$ROOT/docs/performance.md" "$OUT/results.md"
  cp "$OUT/perf-growth.png" "$ROOT/docs/perf-growth.png"
  log "docs/performance.md and docs/perf-growth.png updated"
fi
echo
echo "Cairn benchmark — $HEADER"
echo
cat "$OUT/table.txt"
echo
echo "(${RUN_SECONDS}s; logs and raw results in $OUT)"
