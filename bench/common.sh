# Helpers of bench/run.sh (sourced): the processes it starts, CPU placement and accounting, the
# node, wrk, and how slices of a workload are merged into one result. Nothing here picks a
# workload; run.sh does.

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
now_ns() { date +%s%N; }
grp() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/ &/;ta'; } # 100000 -> "100 000"

# ---------------------------------------------------------------- processes we start, and stop

NODE_PID="" BASE_PID="" ETCD_PID="" WRK_PID=""
stop_pid() { # pid [timeout_s]: SIGTERM, wait, SIGKILL if it lingers
  local pid=$1 limit=$(( $(date +%s) + ${2:-15} ))
  if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then return 0; fi
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$limit" ]; do sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  node_thaw
  stop_pid "$WRK_PID" 2; stop_pid "$BASE_PID"; stop_pid "$ETCD_PID"; stop_pid "$NODE_PID" 30
  rm -rf "$WORK"
}

# ---------------------------------------------------------------- CPU placement
# Server processes (Cairn's roles, the baselines) on the first CPUs we may use, the load (wrk,
# the push listeners) on the last quarter, at least one. One CPU: no pinning.
expand_cpus() { # "0-2,5" -> "0 1 2 5"
  local part
  for part in ${1//,/ }; do seq "${part%-*}" "${part#*-}"; done | tr '\n' ' '
}
place_cpus() {
  local cpus ncpu nload
  read -ra cpus <<<"$(expand_cpus "$(taskset -pc $$ | sed 's/.*: *//')")"
  ncpu=${#cpus[@]}
  NCPU=$ncpu
  if [ "$ncpu" -ge 2 ]; then
    nload=$(( ncpu / 4 > 0 ? ncpu / 4 : 1 ))
    SERVER_CPUS=$(IFS=,; echo "${cpus[*]:0:$((ncpu - nload))}")
    LOAD_CPUS=$(IFS=,; echo "${cpus[*]:$((ncpu - nload))}")
    PIN_SERVER=(taskset -c "$SERVER_CPUS")
    PIN_LOAD=(taskset -c "$LOAD_CPUS")
    WRK_THREADS=$nload
    PLACEMENT="server on CPU $SERVER_CPUS, load on CPU $LOAD_CPUS"
  else
    SERVER_CPUS="" PIN_SERVER=() PIN_LOAD=() WRK_THREADS=1
    PLACEMENT="one CPU: server and load share it"
  fi
}

# ---------------------------------------------------------------- a node

NODE_DATA="" GW="" REG_ADMIN="" ROLES=""
start_node() { # name [--set k=v]...
  local name=$1; shift
  NODE_DATA=$WORK/node-$name
  mkdir -p "$NODE_DATA"
  # Every listener of every role (admin, peer, UDP) on a free loopback port, whatever roles
  # this build has; everything else keeps its production default.
  local sets=() key
  for key in $("$BIN/cairn" config-reference | sed -n 's/^| `\([a-z_.]*listen\)` .*/\1/p'); do
    sets+=(--set "$key=127.0.0.1:0")
  done
  "${PIN_SERVER[@]}" "$BIN/cairn" run --data-dir "$NODE_DATA" "${sets[@]}" "$@" \
    >"$LOGS/node-$name.out" 2>"$LOGS/node-$name.err" &
  NODE_PID=$!
  local limit=$(( $(date +%s) + 60 ))
  until grep -qs '^cairn: node ready' "$LOGS/node-$name.out"; do
    kill -0 "$NODE_PID" 2>/dev/null || die "node $name exited; see $LOGS/node-$name.err"
    [ "$(date +%s)" -lt "$limit" ] || die "node $name not ready after 60 s"
    sleep 0.1
  done
  GW=$(cat "$NODE_DATA/run/gateway.http")
  REG_ADMIN=$(cat "$NODE_DATA/run/registry.admin")
  ROLES=$(role_names | paste -sd, - | sed 's/,/, /g')
  log "node $name ready: gateway $GW, roles $ROLES"
}
stop_node() { stop_pid "$NODE_PID" 30; NODE_PID=""; rm -rf "$NODE_DATA"; }

# The node's role processes, "name pid" per line: every process whose command line carries our
# data dir as node.data_dir (`cairn run` passes it to each role it starts).
role_pids() {
  local p cmd
  for p in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
    case $cmd in
      *"node.data_dir=$NODE_DATA "*) set -f; set -- $cmd; set +f; echo "${1##*/} ${p#/proc/}" ;;
    esac
  done | sed 's/^cairn-//'
}
role_names() { role_pids | awk '{print $1}' | sort -u; }

# While a baseline runs, the node is stopped (SIGSTOP), supervisor first so that it sees nothing:
# its background work (sweeps, probes) must not eat into the baseline's CPU. `cairn run` reaps
# without WUNTRACED and the roles have no watchdog, so a stopped node just resumes later.
FROZEN=""
node_freeze() {
  [ -n "$NODE_PID" ] || return 0
  FROZEN="$NODE_PID $(role_pids | awk '{print $2}' | tr '\n' ' ')"
  local pid
  for pid in $FROZEN; do kill -STOP "$pid" 2>/dev/null || true; done
}
node_thaw() {
  local pid pids=""
  for pid in $FROZEN; do pids="$pid $pids"; done # roles first, the supervisor last
  for pid in $pids; do kill -CONT "$pid" 2>/dev/null || true; done
  FROZEN=""
}

registry_metric() { # name -> value, empty when the registry does not answer
  local text
  text=$(curl -fsS "http://$REG_ADMIN/metrics" 2>/dev/null) || return 0
  awk -v m="$1" '$1 == m {v = $2} END {print v}' <<<"$text"
}

# ---------------------------------------------------------------- CPU accounting
# A "side" (cairn, base) is a set of processes whose CPU time is summed over the slices it ran;
# the load generators' time is the shell's reaped-children time over the same slices. Reads use
# builtins, so that no helper process of ours is counted as load.

proc_ticks() { # pid -> utime+stime in clock ticks
  local s f
  read -r s 2>/dev/null <"/proc/$1/stat" || { echo 0; return; }
  read -ra f <<<"${s##*) }"
  echo $(( f[11] + f[12] ))
}
children_ticks() { local f; read -ra f </proc/$$/stat; echo $(( f[15] + f[16] )); }
declare -A SIDE_PIDS SIDE_NS SIDE_LOAD SIDE_START SIDE_LOAD0 TICKS0 TICKS
cpu_track() { # side "name pid" lines: starts an account
  local side=$1 name pid
  SIDE_PIDS[$side]=$2 SIDE_NS[$side]=0 SIDE_LOAD[$side]=0
  while read -r name pid; do [ -z "$pid" ] || TICKS[$side:$pid]=0; done <<<"$2"
}
cpu_resume() { # side
  local name pid
  while read -r name pid; do
    [ -z "$pid" ] || TICKS0[$1:$pid]=$(proc_ticks "$pid")
  done <<<"${SIDE_PIDS[$1]}"
  SIDE_START[$1]=$(now_ns)
  SIDE_LOAD0[$1]=$(children_ticks)
}
cpu_pause() { # side
  local load name pid
  load=$(children_ticks)
  SIDE_LOAD[$1]=$(( SIDE_LOAD[$1] + load - SIDE_LOAD0[$1] ))
  SIDE_NS[$1]=$(( SIDE_NS[$1] + $(now_ns) - SIDE_START[$1] ))
  while read -r name pid; do
    [ -z "$pid" ] || TICKS[$1:$pid]=$(( TICKS[$1:$pid] + $(proc_ticks "$pid") - TICKS0[$1:$pid] ))
  done <<<"${SIDE_PIDS[$1]}"
}
cpu_report() { # side [with_load] -> "registry 95, gateway 60, load 12" (% of one CPU); no load
  # figure when the side's SIDE_LOAD is empty
  local name pid
  {
    while read -r name pid; do [ -z "$pid" ] || echo "$name ${TICKS[$1:$pid]}"; done <<<"${SIDE_PIDS[$1]}"
    [ -z "${2:-}" ] || [ -z "${SIDE_LOAD[$1]}" ] || echo "load ${SIDE_LOAD[$1]}"
  } | awk -v hz="$CLK_TCK" -v ns="${SIDE_NS[$1]}" '
    { t[$1] += $2; if (!($1 in seen)) { seen[$1] = 1; order[n++] = $1 } }
    END { for (i = 0; i < n; i++)
            printf "%s%s %.0f", (i ? ", " : ""), order[i], (ns > 0 ? t[order[i]] * 100 / hz / (ns / 1e9) : 0) }'
}

# CPU per request: the side's processes' CPU (the load generators' not included), as the sum of
# their % of one CPU, / 100 x 1e6 / requests per second, in microseconds: what the table's CPU and
# throughput columns give, unrounded. Empty without a rate.
cpu_us_per_request() { # side rps
  local name pid
  [ -n "$2" ] || return 0
  while read -r name pid; do [ -z "$pid" ] || echo "${TICKS[$1:$pid]}"; done <<<"${SIDE_PIDS[$1]}" |
    awk -v hz="$CLK_TCK" -v ns="${SIDE_NS[$1]}" -v rps="$2" '
      { t += $1 }
      END { if (ns > 0 && rps > 0) printf "%.0f", (t / hz) / (ns / 1e9) * 1e6 / rps }'
}

# ---------------------------------------------------------------- load and results

bench_field() { sed -n 's/^BENCH //p' "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1; }

# wrk for SECONDS with a script: out_file url script seconds conns [-- script args]
run_wrk() {
  local out=$1 url=$2 script=$3 secs=$4 conns=$5; shift 5
  "${PIN_LOAD[@]}" wrk -t"$WRK_THREADS" -c"$conns" -d"${secs}s" --timeout 5s \
    -s "$BENCH_LUA_DIR/$script" "$url" "$@" >"$out" 2>&1 || die "wrk failed: $(tail -3 "$out")"
  grep -q '^BENCH ' "$out" || die "wrk printed no result: $(tail -3 "$out")"
}

# Merges the BENCH lines of a workload's slices into one: requests, errors and deliveries add up;
# throughput is all requests over all time (or the median slice rate when a tool reports only a
# rate); latency percentiles are the median of the slices'.
merge_slices() { # out files...
  local out=$1; shift
  awk '
    function median(a, n,   i, j, t) {
      for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j > 0 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return n == 0 ? "" : (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2)
    }
    /^BENCH / {
      n++
      for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2]; seen[kv[1]] = 1 }
      rps[n] = v["rps"]; p50[n] = v["p50_us"]; p99[n] = v["p99_us"]
      for (k in seen) if (k != "rps" && k != "p50_us" && k != "p99_us") sum[k] += v[k]
      last_bytes = v["bytes"]; last_gzip = v["gzip"]
      delete v
    }
    END {
      if (!n) exit
      r = ("duration_us" in sum && sum["duration_us"] > 0) ? sum["requests"] / (sum["duration_us"] / 1e6) : median(rps, n)
      printf "BENCH rps=%.1f p50_us=%d p99_us=%d slices=%d", r, median(p50, n), median(p99, n), n
      for (k in sum) if (k != "bytes" && k != "gzip" && k != "slices") printf " %s=%d", k, sum[k]
      if (last_bytes != "") printf " bytes=%s gzip=%s", last_bytes, last_gzip
      printf "\n"
    }' "$@" >"$out"
}

# The median over slices of Cairn's rate divided by the baseline's in the slice run just after:
# a disturbance (another job on the machine) hits one slice pair, not the whole comparison.
median_ratio() { # name slices
  local i
  for ((i = 1; i <= $2; i++)); do
    echo "$(bench_field "$LOGS/$1.$i.wrk" rps) $(bench_field "$LOGS/$1-base.$i.wrk" rps)"
  done | awk '$1 != "" && $2 > 0 { r[++n] = $1 / $2 }
    END { if (!n) exit
          for (i = 2; i <= n; i++) { t = r[i]; for (j = i - 1; j > 0 && r[j] > t; j--) r[j + 1] = r[j]; r[j + 1] = t }
          printf "%.3f\n", n % 2 ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2 }'
}

# Runs a workload and its baseline alternately, SLICES times each, the node stopped while the
# baseline runs: name cairn_fn base_fn. cairn_fn/base_fn take the slice's output file
# ($LOGS/<name>.<i>.wrk, $LOGS/<name>-base.<i>.wrk). The merged results are $LOGS/<name>.wrk and
# $LOGS/<name>-base.wrk; CPU is accounted on the sides "cairn" and "base" (set up by the caller).
alternate() {
  local name=$1 cairn_fn=$2 base_fn=$3 i
  rm -f "$LOGS/$name".[0-9]*.wrk "$LOGS/$name-base".[0-9]*.wrk
  for ((i = 1; i <= SLICES; i++)); do
    cpu_resume cairn; "$cairn_fn" "$LOGS/$name.$i.wrk"; cpu_pause cairn
    node_freeze
    cpu_resume base; "$base_fn" "$LOGS/$name-base.$i.wrk"; cpu_pause base
    node_thaw
  done
  merge_slices "$LOGS/$name.wrk" "$LOGS/$name".[0-9]*.wrk
  merge_slices "$LOGS/$name-base.wrk" "$LOGS/$name-base".[0-9]*.wrk
}

# One row of the results table (see report.sh for the columns):
# name title baseline_title [note] [ratio]; Cairn figures from $LOGS/<name>.wrk, the baseline's
# from $LOGS/<name>-base.wrk, CPU from the sides, the ratio from the slices unless given. CPU per
# request for workloads of requests (a wrk result counts them; push rounds count deliveries).
record() {
  local f=$LOGS/$1.wrk b=$LOGS/$1-base.wrk note=${4:-} ratio=${5:-} errs per_request=""
  [ -n "$ratio" ] || ratio=$(median_ratio "$1" "$SLICES")
  [ -z "$(bench_field "$f" requests)" ] || per_request=$(cpu_us_per_request cairn "$(bench_field "$f" rps)")
  errs=$(bench_field "$f" errors)
  [ "${errs:-0}" = 0 ] || note="${note:+$note; }Cairn: $errs errors in $(bench_field "$f" requests) requests"
  errs=$(bench_field "$b" errors)
  [ "${errs:-0}" = 0 ] || note="${note:+$note; }baseline: $errs errors in $(bench_field "$b" requests) requests"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$2" \
    "$(bench_field "$f" rps)" "$(bench_field "$f" p50_us)" "$(bench_field "$f" p99_us)" \
    "$(cpu_report cairn load)" "$3" "$(bench_field "$b" rps)" "$(bench_field "$b" p50_us)" \
    "$(bench_field "$b" p99_us)" "$(cpu_report base load)" "$note" "$ratio" "$per_request" >>"$RESULTS"
  log "$2: $(bench_field "$f" rps)/s vs $(bench_field "$b" rps)/s, ratio $ratio${per_request:+, Cairn CPU ${per_request} us per request}"
}

# A row for a workload that could not run: title reason baseline_title
na_row() {
  printf '%s\t\t\t\t\t%s\t\t\t\t\tn/a (%s)\t\t\n' "$1" "$3" "$2" >>"$RESULTS"
  log "$1: n/a ($2)"
}

capture() { # url file [method] -> body in file, content type in file.type; else CAPTURE_ERROR
  local code
  code=$(curl -s -X "${3:-GET}" -A "$UA" -o "$2" -w '%{http_code} %{content_type}' "$1") || true
  echo "${code#* }" >"$2.type"
  [ "${code%% *}" = 200 ] && return 0
  CAPTURE_ERROR="HTTP ${code%% *}: $(head -c 120 "$2" 2>/dev/null | tr -d '\n')"
  return 1
}

# Registers exactly COUNT new instances (register.lua numbering, kept alive by metadata) and
# waits until the registry holds TOTAL instances: name prefix services start count total
fill() {
  local name=$1 prefix=$2 services=$3 start=$4 count=$5 total=$6
  local limit=$(( 60 + count / 500 )) t0 have=0
  t0=$(date +%s)
  "${PIN_LOAD[@]}" wrk -t"$WRK_THREADS" -c"$CONNS" -d"${limit}s" --timeout 10s \
    -s "$BENCH_LUA_DIR/register.lua" "http://$GW/" -- threads="$WRK_THREADS" conns="$CONNS" \
    start="$start" count="$count" services="$services" prefix="$prefix" keep=1 \
    >"$LOGS/fill-$name.wrk" 2>&1 &
  WRK_PID=$!
  while :; do
    have=$(registry_metric cairn_registry_instances)
    [ "${have:-0}" -ge "$total" ] && break
    kill -0 "$WRK_PID" 2>/dev/null || break
    sleep 0.2
  done
  kill -INT "$WRK_PID" 2>/dev/null || true
  wait "$WRK_PID" 2>/dev/null || true
  WRK_PID=""
  [ "${have:-0}" -ge "$total" ] || die "fill $name: the registry holds ${have:-?} instances, expected $total (see $LOGS/fill-$name.wrk)"
  FILL_SECONDS=$(( $(date +%s) - t0 ))
}

start_baseline_http() { # body_file content_type
  rm -f "$WORK/base.addr"
  "${PIN_SERVER[@]}" "$TOOLS/cairn-bench-http" --body "$1" --content-type "$2" \
    --address-file "$WORK/base.addr" >>"$LOGS/baseline-http.log" 2>&1 &
  BASE_PID=$!
  local limit=$(( $(date +%s) + 10 ))
  until [ -s "$WORK/base.addr" ]; do
    kill -0 "$BASE_PID" 2>/dev/null && [ "$(date +%s)" -lt "$limit" ] || die "baseline responder did not start"
    sleep 0.05
  done
  BASE_ADDR=$(cat "$WORK/base.addr")
}
stop_baseline() { stop_pid "$BASE_PID"; BASE_PID=""; }
