# The cluster part of bench/run.sh (sourced; uses common.sh): a three-node Cairn cluster on
# 127.0.0.1, 127.0.0.2 and 127.0.0.3 with production timings, and a three-member etcd cluster
# on 127.0.0.1 beside it.
#   cluster_run   visibility latency and raft failover (the CLUSTER table), ephemeral register
#                 through the cluster against the single node, persistent writes against etcd
# Everything it starts is stopped by cluster_cleanup (run.sh's cleanup calls it).

CLUSTER_PIDS=() CLUSTER_DIRS=() CLUSTER_GWS=() CLUSTER_MEMBERS="" ETCD3_PIDS=()
CLUSTER=$OUT/cluster.tsv

cluster_cleanup() {
  local pid
  for pid in "${ETCD3_PIDS[@]}"; do stop_pid "$pid"; done
  for pid in "${CLUSTER_PIDS[@]}"; do stop_pid "$pid" 30; done
  ETCD3_PIDS=() CLUSTER_PIDS=()
}

# Three nodes, node i on 127.0.0.i with its own free HTTP port; peer and raft listeners on port 0
# (peers learn them through operator/servers), every admin listener on port 0.
start_cluster() {
  local ports i host sets key secret=$WORK/cluster-secret
  read -ra ports <<<"$("$TOOLS/cairn-bench-freeport" 3 | tr '\n' ' ')"
  CLUSTER_MEMBERS="127.0.0.1:${ports[0]},127.0.0.2:${ports[1]},127.0.0.3:${ports[2]}"
  (umask 077; od -An -vtx1 -N32 /dev/urandom | tr -d ' \n' >"$secret")
  for i in 1 2 3; do
    host=127.0.0.$i
    sets=()
    for key in $("$BIN/cairn" config-reference | sed -n 's/^| `\([a-z_.]*listen\)` .*/\1/p'); do
      sets+=(--set "$key=$host:0")
    done
    CLUSTER_DIRS[i - 1]=$WORK/cluster-node$i
    CLUSTER_GWS[i - 1]=$host:${ports[i - 1]}
    mkdir -p "${CLUSTER_DIRS[i - 1]}"
    "${PIN_SERVER[@]}" "$BIN/cairn" run --data-dir "${CLUSTER_DIRS[i - 1]}" "${sets[@]}" \
      --set "gateway.listen=$host:${ports[i - 1]}" --set "cluster.members=$CLUSTER_MEMBERS" \
      --set "cluster.secret_file=$secret" \
      >"$LOGS/cluster-node$i.out" 2>"$LOGS/cluster-node$i.err" &
    CLUSTER_PIDS[i - 1]=$!
  done
  local limit=$(( $(date +%s) + 90 ))
  for i in 1 2 3; do
    until grep -qs '^cairn: node ready' "$LOGS/cluster-node$i.out"; do
      kill -0 "${CLUSTER_PIDS[i - 1]}" 2>/dev/null || die "cluster node $i exited; see $LOGS/cluster-node$i.err"
      [ "$(date +%s)" -lt "$limit" ] || die "cluster node $i not ready after 90 s"
      sleep 0.1
    done
  done
  # every node sees the three members UP
  until [ "$(for g in "${CLUSTER_GWS[@]}"; do
               curl -fsS "http://$g/nacos/v1/ns/operator/servers" 2>/dev/null | grep -o '"state":"UP"'
             done | wc -l)" = 9 ]; do
    [ "$(date +%s)" -lt "$limit" ] || die "the cluster's members are not all UP after 90 s"
    sleep 0.2
  done
  log "cluster ready: $CLUSTER_MEMBERS"
}

# The cluster is never frozen (SIGSTOP): resumed replicators would count the pause as missed
# pings and raft as a lost leader. It idles (pings, raft heartbeats) while a baseline runs.

# A row of the cluster table: measure p50_us p99_us max_us count target note
cluster_row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$CLUSTER"; }

cluster_visibility() {
  local count=$1 f=$LOGS/cluster-visibility.out
  "${PIN_LOAD[@]}" "$TOOLS/cairn-bench-cluster" visibility --members "$CLUSTER_MEMBERS" \
    --count "$count" --timeout-ms 10000 >"$f" 2>&1 || log "visibility: $(tail -2 "$f")"
  local p50 p99 max listed note
  p50=$(bench_field "$f" p50_us) p99=$(bench_field "$f" p99_us) max=$(bench_field "$f" max_us)
  listed=$(bench_field "$f" listed)
  note="registered on the owner, listed by both other nodes; distro.sync_delay_ms 50"
  [ "${listed:-0}" = "$count" ] || note="$note; only ${listed:-0} of $count listed within 10 s"
  cluster_row "Distro visibility (register on one node, listed on the other two)" "$p50" "$p99" \
    "$max" "$count" "p50 <= 80 ms, p99 <= 300 ms" "$note"
  log "visibility: p50 ${p50:-?} us, p99 ${p99:-?} us over ${listed:-0} of $count"
}

cluster_failover() {
  local kills=$1 f=$LOGS/cluster-failover.out dirs
  dirs=$(IFS=,; echo "${CLUSTER_DIRS[*]}")
  "$TOOLS/cairn-bench-cluster" failover --members "$CLUSTER_MEMBERS" --data-dirs "$dirs" \
    --kills "$kills" --timeout-ms 20000 >"$f" 2>&1 || log "failover: $(tail -2 "$f")"
  cluster_row "Raft failover (leader's replicator kill -9, new leader named by both survivors)" \
    "$(bench_field "$f" p50_us)" "" "$(bench_field "$f" max_us)" "$(bench_field "$f" kills)" "-" \
    "raft.election_timeout_ms 500 (randomized 0.5-1 s), heartbeat 50 ms; a node publishes a raft role or leader change within a heartbeat; the time to the next acknowledged persistent write is measured by tests/integration/test_cluster_raft_write, not here"
  log "failover: p50 $(bench_field "$f" p50_us) us, max $(bench_field "$f" max_us) us over $(bench_field "$f" kills) kills"
}

# Ephemeral register through the cluster (one wrk per gateway, CONNS connections in all) against
# the single node of start_node, alternating slices: the single node is frozen while the cluster
# runs, the cluster idles while the single node runs.
cluster_register_slice() {
  local out=$1 i=${1%.wrk} pids=() g n=0 per=$(( (CONNS + 2) / 3 ))
  i=${i##*.}
  for g in "${CLUSTER_GWS[@]}"; do
    "${PIN_LOAD[@]}" wrk -t1 -c"$per" -d"${SLICE}s" --timeout 5s -s "$BENCH_LUA_DIR/register.lua" \
      "http://$g/" -- threads=1 conns="$per" prefix="bench-creg$n" start=$(( i * 10000000 )) \
      >"$out.$n" 2>&1 &
    pids+=($!)
    n=$((n + 1))
  done
  for g in "${pids[@]}"; do wait "$g" || die "wrk failed: $(tail -3 "$out".*)"; done
  # one BENCH line: the three rates add up, latency is the slowest gateway's
  cat "$out".[0-9] | awk '/^BENCH / { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      rps += v["rps"]; req += v["requests"]; err += v["errors"]; dur = v["duration_us"] > dur ? v["duration_us"] : dur
      p50 = v["p50_us"] > p50 ? v["p50_us"] : p50; p99 = v["p99_us"] > p99 ? v["p99_us"] : p99 }
    END { printf "BENCH rps=%.1f p50_us=%d p99_us=%d requests=%d errors=%d\n", rps, p50, p99, req, err }' >"$out"
  rm -f "$out".[0-9]
}
single_register_slice() {
  run_wrk "$1" "http://$GW/" register.lua "$SLICE" "$CONNS" -- threads="$WRK_THREADS" \
    conns="$CONNS" prefix=bench-sreg "$(WL_SCRIPT=register.lua slice_args "$1")"
}
cluster_register() {
  local i
  start_node single
  node_freeze
  rm -f "$LOGS"/creg.[0-9]*.wrk "$LOGS"/creg-base.[0-9]*.wrk
  for ((i = 1; i <= SLICES; i++)); do
    cluster_register_slice "$LOGS/creg.$i.wrk"
    node_thaw
    single_register_slice "$LOGS/creg-base.$i.wrk"
    node_freeze
  done
  node_thaw
  merge_slices "$LOGS/creg.wrk" "$LOGS"/creg.[0-9]*.wrk
  merge_slices "$LOGS/creg-base.wrk" "$LOGS"/creg-base.[0-9]*.wrk
  cpu_track cairn ""; cpu_track base ""
  SIDE_LOAD[cairn]="" SIDE_LOAD[base]=""
  record creg "register, ephemeral, 3 nodes" "the same load, one node" \
    "3-node cluster, a wrk per gateway; a write for a service another node owns is forwarded to its owner, owners sync to peers"
  stop_node
}

# A three-member etcd cluster on 127.0.0.1 (six free ports), one member per process.
start_etcd3() {
  local ports i initial="" version
  read -ra ports <<<"$("$TOOLS/cairn-bench-freeport" 6 | tr '\n' ' ')"
  for i in 0 1 2; do initial+="${initial:+,}e$i=http://127.0.0.1:${ports[i * 2 + 1]}"; done
  ETCD3_CLIENTS=()
  for i in 0 1 2; do
    "${PIN_SERVER[@]}" etcd --name "e$i" --data-dir "$WORK/etcd3-$i" \
      --listen-client-urls "http://127.0.0.1:${ports[i * 2]}" \
      --advertise-client-urls "http://127.0.0.1:${ports[i * 2]}" \
      --listen-peer-urls "http://127.0.0.1:${ports[i * 2 + 1]}" \
      --initial-advertise-peer-urls "http://127.0.0.1:${ports[i * 2 + 1]}" \
      --initial-cluster "$initial" --initial-cluster-state new --initial-cluster-token cairn-bench \
      >"$LOGS/etcd3-$i.log" 2>&1 &
    ETCD3_PIDS+=($!)
    ETCD3_CLIENTS+=("127.0.0.1:${ports[i * 2]}")
  done
  local limit=$(( $(date +%s) + 60 ))
  for i in 0 1 2; do
    until curl -fsS "http://${ETCD3_CLIENTS[i]}/health" 2>/dev/null | grep -q '"health":"true"'; do
      [ "$(date +%s)" -lt "$limit" ] || die "etcd member $i is not healthy after 60 s; see $LOGS/etcd3-$i.log"
      sleep 0.1
    done
  done
  log "etcd 3-member cluster healthy: ${ETCD3_CLIENTS[*]}"
}

# Persistent writes with PERSIST_CONNECTIONS (64) connections: Cairn's three nodes through raft
# (only once persistent writes are carried by raft: persist-check), and etcd's three members.
# Where the connections go decides the path on both sides (a follower forwards every write to
# the leader), so each side is measured twice, every connection to its leader, then every
# connection to one of its followers: two rows, each comparing like with like. Each side idles
# while the other runs.
PERSIST_CONNECTIONS=${BENCH_PERSIST_CONNECTIONS:-64}

# The index (0-2) of Cairn's raft leader among CLUSTER_GWS, as node 1 names it; empty if none.
cairn_leader_index() {
  local leader i
  leader=$(curl -fsS "http://${CLUSTER_GWS[0]}/nacos/v1/ns/operator/servers" 2>/dev/null |
    grep -o '"raftLeader":"[^"]*"' | cut -d'"' -f4 | grep -v '^none$' | head -n1) || leader=""
  for i in 0 1 2; do [ "${CLUSTER_GWS[i]}" != "$leader" ] || { echo "$i"; return; }; done
}

# The index (0-2) of etcd's leader among ETCD3_CLIENTS (the member whose id is the leader its
# status names); empty if none.
etcd_leader_index() {
  local i st id leader
  for i in 0 1 2; do
    st=$(curl -fsS -X POST -d '{}' "http://${ETCD3_CLIENTS[i]}/v3/maintenance/status" 2>/dev/null) || continue
    id=$(echo "$st" | grep -o '"member_id":"[0-9]*"' | cut -d'"' -f4)
    leader=$(echo "$st" | grep -o '"leader":"[0-9]*"' | cut -d'"' -f4)
    [ -z "$id" ] || [ "$id" != "$leader" ] || { echo "$i"; return; }
  done
}

# One row: entry is "leader" or "follower"; both sides' connections go to such a member.
cluster_persist_via() {
  local entry=$1 cairn_on=$2 why=$3 i cl el c e name=cpersist-$1
  cl=$(cairn_leader_index) el=$(etcd_leader_index)
  [ -n "$cl" ] && [ -n "$el" ] || { na_row "register, persistent, 3 nodes, via a $entry"     "no leader known (Cairn: ${cl:-none}, etcd: ${el:-none})" "etcd put, 3 members"; return; }
  if [ "$entry" = leader ]; then c=$cl e=$el; else c=$(( (cl + 1) % 3 )) e=$(( (el + 1) % 3 )); fi
  rm -f "$LOGS/$name".[0-9]*.wrk "$LOGS/$name"-base.[0-9]*.wrk
  for ((i = 1; i <= SLICES; i++)); do
    if [ "$cairn_on" = 1 ]; then
      run_wrk "$LOGS/$name.$i.wrk" "http://${CLUSTER_GWS[c]}/" register.lua "$SLICE" \
        "$PERSIST_CONNECTIONS" -- threads="$WRK_THREADS" conns="$PERSIST_CONNECTIONS" \
        prefix=bench-$name ephemeral=false start=$(( i * 10000000 ))
    fi
    run_wrk "$LOGS/$name-base.$i.wrk" "http://${ETCD3_CLIENTS[e]}/v3/kv/put" etcd_put.lua \
      "$SLICE" "$PERSIST_CONNECTIONS" -- threads="$WRK_THREADS" start=$(( i * 10000000 ))
  done
  merge_slices "$LOGS/$name-base.wrk" "$LOGS/$name"-base.[0-9]*.wrk
  local title="register, persistent, 3 nodes, via a $entry"
  local base="etcd $(etcd --version | sed -n 's/^etcd Version: //p') put, 3 members"
  local what="3-node cluster through raft, $PERSIST_CONNECTIONS connections to the raft $entry (node $(( c + 1 ))) / to etcd's $entry (member $(( e + 1 )))"
  # a leader change during the run would mix the paths: say so
  [ "$(cairn_leader_index)" = "$cl" ] || what="$what; Cairn's raft leader changed during the run"
  [ "$(etcd_leader_index)" = "$el" ] || what="$what; etcd's leader changed during the run"
  cpu_track cairn ""; cpu_track base ""
  SIDE_LOAD[cairn]="" SIDE_LOAD[base]=""
  if [ "$cairn_on" = 1 ]; then
    merge_slices "$LOGS/$name.wrk" "$LOGS/$name".[0-9]*.wrk
    record "$name" "$title" "$base" "$what"
  else
    local b=$LOGS/$name-base.wrk
    printf '%s\t\t\t\t\t%s\t%s\t%s\t%s\t\t%s; Cairn n/a (%s)\t\t\n' "$title" "$base" "$(bench_field "$b" rps)" \
      "$(bench_field "$b" p50_us)" "$(bench_field "$b" p99_us)" "$what" "$why" >>"$RESULTS"
    log "$title: n/a ($why); etcd 3 members $(bench_field "$b" rps)/s"
  fi
}

cluster_persist() {
  local cairn_on=1 why=""
  "$TOOLS/cairn-bench-cluster" persist-check --members "$CLUSTER_MEMBERS" >/dev/null 2>&1 || {
    cairn_on=0
    why="persistent writes do not go through raft yet (a persistent registration on node 1 is not listed on node 2)"
  }
  start_etcd3
  cluster_persist_via leader "$cairn_on" "$why"
  cluster_persist_via follower "$cairn_on" "$why"
  local pid
  for pid in "${ETCD3_PIDS[@]}"; do stop_pid "$pid"; done
  ETCD3_PIDS=()
}

cluster_run() {
  local vis_count=200 kills=5
  [ "$QUICK" = 0 ] || { vis_count=50; kills=2; }
  : >"$CLUSTER"
  start_cluster
  # BENCH_CLUSTER_PERSIST_ONLY=1: only the persistent writes against etcd (raft write path work)
  if [ "${BENCH_CLUSTER_PERSIST_ONLY:-0}" = 1 ]; then
    cluster_persist
    cluster_cleanup
    return
  fi
  cluster_visibility "$vis_count"
  cluster_register
  cluster_persist
  # last: the kills leave raft terms and restarted replicators behind
  cluster_failover "$kills"
  cluster_cleanup
}
