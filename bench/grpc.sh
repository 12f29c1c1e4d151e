# The gRPC workloads of bench/run.sh (sourced after common.sh; run.sh calls grpc_workloads). A
# fresh node with cairn-grpc: memory per idle connection at GRPC_IDLE_CONNS connections, then
# register and query throughput against a trivial nghttp2 server (bench/baseline_grpc.c)
# answering the bytes cairn-grpc answered to the same requests, captured at the start.
# The load is bench/grpc_load.c (cairn-bench-grpc). Rows go to $RESULTS, the idle figures to
# $GRPC_CONNS_TSV (columns: server, connections, set-up seconds, RSS KiB before, once set up,
# KiB per connection then, RSS KiB once each was probed (ClientDetectionRequest) and answered,
# KiB per connection then, note; the probe columns are empty for the baseline, which sends none).

GRPC_IDLE_CONNS=${BENCH_GRPC_IDLE_CONNS:-10000}

grpc_admin_metric() { # name -> value from cairn-grpc's /metrics, empty when it does not answer
  local text
  text=$(curl -fsS "http://$(cat "$NODE_DATA/run/grpc.admin")/metrics" 2>/dev/null) || return 0
  awk -v m="$1" '$1 == m {v = $2} END {print v}' <<<"$text"
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null; }

start_baseline_grpc() { # dir of captured replies
  rm -f "$WORK/grpc-base.addr"
  local args=() f
  for f in "$1"/*.bin; do args+=(--reply "$(basename "$f" .bin)=$f"); done
  "${PIN_SERVER[@]}" "$TOOLS/cairn-bench-grpc-base" "${args[@]}" \
    --address-file "$WORK/grpc-base.addr" >>"$LOGS/baseline-grpc.log" 2>&1 &
  BASE_PID=$!
  local limit=$(( $(date +%s) + 10 ))
  until [ -s "$WORK/grpc-base.addr" ]; do
    kill -0 "$BASE_PID" 2>/dev/null && [ "$(date +%s)" -lt "$limit" ] || die "gRPC baseline did not start"
    sleep 0.05
  done
  BASE_ADDR=$(cat "$WORK/grpc-base.addr")
}

# RSS of pid, waited for until it stops moving (bounded by limit, a date +%s)
rss_settled() { # pid limit
  local prev=0 rss
  rss=$(rss_kib "$1")
  while [ "$rss" != "$prev" ] && [ "$(date +%s)" -lt "$2" ]; do
    sleep 0.5; prev=$rss; rss=$(rss_kib "$1")
  done
  echo "$rss"
}
per_conn() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {printf "%.1f", (b - a) / n}'; }

# RSS of pid before and after `connections` idle connections (each set up: ServerCheck,
# bi-stream, ConnectionSetupRequest) are opened to target and held; for cairn-grpc also once
# each has been probed and has answered (an idle connection's steady state): label pid target
grpc_idle() {
  local label=$1 pid=$2 target=$3 ready=$WORK/grpc-idle.ready rss0 rss1 rss2="" connected setup
  local limit note="" probes0 per2=""
  rss0=$(rss_kib "$pid")
  [ "$label" != cairn ] || probes0=$(grpc_admin_metric cairn_grpc_probes_total)
  rm -f "$ready"
  "${PIN_LOAD[@]}" "$TOOLS/cairn-bench-grpc" idle --target "$target" --conns "$GRPC_IDLE_CONNS" \
    --ready-file "$ready" --hold-seconds 180 </dev/null >"$LOGS/grpc-idle-$label.out" 2>&1 &
  WRK_PID=$!
  limit=$(( $(date +%s) + 150 ))
  until [ -s "$ready" ]; do
    kill -0 "$WRK_PID" 2>/dev/null && [ "$(date +%s)" -lt "$limit" ] \
      || die "gRPC idle connections to $label: no result (see $LOGS/grpc-idle-$label.out)"
    sleep 0.2
  done
  connected=$(sed -n 's/.*connected=\([0-9]*\).*/\1/p' "$ready")
  setup=$(sed -n 's/.*setup_ms=\([0-9]*\).*/\1/p' "$ready")
  [ "${connected:-0}" -gt 0 ] || die "gRPC idle: no connection to $label ($(tail -1 "$LOGS/grpc-idle-$label.out"))"
  [ "$connected" = "$GRPC_IDLE_CONNS" ] || note="$connected of $GRPC_IDLE_CONNS connected"
  # cairn-grpc counts its connections; for both, RSS must have stopped moving (bounded)
  limit=$(( $(date +%s) + 15 ))
  if [ "$label" = cairn ]; then
    while [ "$(grpc_admin_metric cairn_grpc_connections)" != "$connected" ] && [ "$(date +%s)" -lt "$limit" ]; do
      sleep 0.2
    done
  fi
  rss1=$(rss_settled "$pid" "$limit")
  if [ "$label" = cairn ]; then
    # production timings: the first probe comes grpc.detect_idle_ms (20 s) after a connection's
    # last frame
    limit=$(( $(date +%s) + 60 ))
    while [ $(( $(grpc_admin_metric cairn_grpc_probes_total) - probes0 )) -lt "$connected" ] &&
          [ "$(date +%s)" -lt "$limit" ]; do
      sleep 0.5
    done
    rss2=$(rss_settled "$pid" $(( $(date +%s) + 10 )))
    per2=$(per_conn "$rss0" "$rss2" "$connected")
    [ "$(( $(grpc_admin_metric cairn_grpc_probes_total) - probes0 ))" -ge "$connected" ] \
      || note="${note:+$note; }not every connection was probed within 60 s"
  fi
  stop_pid "$WRK_PID" 5; WRK_PID=""
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$connected" \
    "$(awk -v ms="$setup" 'BEGIN {printf "%.1f", ms / 1000}')" "$rss0" "$rss1" \
    "$(per_conn "$rss0" "$rss1" "$connected")" "$rss2" "$per2" "$note" >>"$GRPC_CONNS_TSV"
  log "gRPC idle, $label: $connected connections in ${setup} ms, RSS $rss0 -> $rss1 KiB${rss2:+, $rss2 KiB once probed}"
}

GRPC_CALL="" GRPC_SERVICE=""
grpc_slice() { # out_file target: one slice of closed-loop calls on fresh, set-up connections
  local i=${1%.wrk}
  i=${i##*.}
  "${PIN_LOAD[@]}" "$TOOLS/cairn-bench-grpc" load --target "$2" --call "$GRPC_CALL" \
    --service "$GRPC_SERVICE" --conns "$CONNS" --seconds "$SLICE" --start $(( i * 10000000 )) \
    >"$1" 2>&1 || die "cairn-bench-grpc failed: $(tail -3 "$1")"
}
grpc_cairn_slice() { grpc_slice "$1" "$GRPC_ADDR"; }
grpc_base_slice() { grpc_slice "$1" "$BASE_ADDR"; }
grpc_pair() { # name title call service
  GRPC_CALL=$3 GRPC_SERVICE=$4
  cpu_track cairn "$(role_pids)"
  cpu_track base "responder $BASE_PID"
  alternate "$1" grpc_cairn_slice grpc_base_slice
  record "$1" "$2" "nghttp2 server, same bytes"
}

grpc_workloads() {
  local t1="gRPC register, ephemeral" t2="gRPC query, 10 instances" base="nghttp2 server, same bytes"
  if [ ! -x "$TOOLS/cairn-bench-grpc" ] || [ ! -x "$TOOLS/cairn-bench-grpc-base" ]; then
    na_row "$t1" "no gRPC bench tools" "$base"; na_row "$t2" "no gRPC bench tools" "$base"
    return 0
  fi
  # every idle connection is a descriptor in cairn-grpc and in the load tool
  local need=$(( GRPC_IDLE_CONNS + 256 ))
  [ "$(ulimit -n)" -ge "$need" ] || ulimit -n "$need" 2>/dev/null || {
    GRPC_IDLE_CONNS=$(( $(ulimit -n) - 256 ))
    log "gRPC idle: the descriptor limit allows $GRPC_IDLE_CONNS connections"
  }
  # the idle connections come from 4 addresses, 2 500 each at the default count: past the
  # per-address limit's default of 1024
  start_node grpc --set "grpc.max_connections=$(( GRPC_IDLE_CONNS + 64 ))" \
    --set "grpc.max_connections_per_ip=0"
  if ! role_names | grep -qx grpc; then
    na_row "$t1" "no grpc role" "$base"; na_row "$t2" "no grpc role" "$base"
    stop_node; return 0
  fi
  GRPC_ADDR=$(cat "$NODE_DATA/run/grpc.addr")
  fill gq bench-gq 1 0 10 "$(( $(registry_metric cairn_registry_instances) + 10 ))"
  mkdir -p "$WORK/grpc-replies"
  "${PIN_LOAD[@]}" "$TOOLS/cairn-bench-grpc" capture --target "$GRPC_ADDR" --service bench-gq-0 \
    --out "$WORK/grpc-replies" >"$LOGS/grpc-capture.out" 2>&1 \
    || die "gRPC capture failed: $(tail -2 "$LOGS/grpc-capture.out")"
  start_baseline_grpc "$WORK/grpc-replies"
  grpc_idle cairn "$(role_pids | awk '$1 == "grpc" {print $2}')" "$GRPC_ADDR"
  grpc_idle baseline "$BASE_PID" "$BASE_ADDR"
  grpc_pair grpc-register "$t1" register bench-greg
  grpc_pair grpc-query "$t2" query bench-gq-0
  stop_baseline
  stop_node
}
