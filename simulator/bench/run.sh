#!/usr/bin/env bash
# Load run of the cpms (SQLite, then PostgreSQL) and of the echo server (the ceiling) on this
# machine, with the simulator. Prints one JSON report per target into $OUT and the cpms RSS.
#
#   simulator/bench/run.sh STATIONS RAMP_PER_S HOLD_S RATE [MIX]
#
# RATE 0 = closed loop (each station sends its next CALL as soon as the last is answered).
# TARGETS="echo sqlite postgres" (default) picks the targets.
# PostgreSQL: set BENCH_PG=postgres://postgres@127.0.0.1:5432 (a fresh database is created and
# dropped). Needs `cargo build --release -p simulator -p cpms` first.
set -euo pipefail
STATIONS=${1:-1000}; RAMP=${2:-500}; HOLD=${3:-20}; RATE=${4:-0}
MIX=${5:-heartbeat=10,status=10,meter_values=70,authorize=5,transaction=5}
BIN=${BIN:-target/release}
OUT=${OUT:-/tmp/simbench}
OCPP_PORT=${OCPP_PORT:-19000}; HTTP_PORT=${HTTP_PORT:-18080}; ECHO_PORT=${ECHO_PORT:-19100}
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)"

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Busy and total jiffies of the whole machine (all cores).
machine() { awk '/^cpu / {print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }

# Samples the server's RSS in the middle of the hold (all connections open).
sample_rss() {
  local pid=$1 label=$2
  sleep "$(awk -v s="$STATIONS" -v r="$RAMP" -v h="$HOLD" 'BEGIN { print (r > 0 ? s / r : 0) + h / 2 + 2 }')"
  echo "$(rss_kb "$pid")" > "$OUT/$label.rss_kb"
}

load() {
  local label=$1 url=$2 pid=$3
  local t0; t0=$(cpu_ticks "$pid")
  local m0; m0=$(machine)
  sample_rss "$pid" "$label" &
  local sampler=$!
  "$BIN/simulator" load --url "$url" -n "$STATIONS" --ramp "$RAMP" --hold "$HOLD" --rate "$RATE" \
      --protocol mix --mix "$MIX" --ramp-grace "${RAMP_GRACE:-60}" --id-pattern "BENCH-{n:05}" --json > "$OUT/$label.json"
  wait "$sampler" || true
  local t1; t1=$(cpu_ticks "$pid")
  local m1; m1=$(machine)
  echo "$(( (t1 - t0) ))" > "$OUT/$label.cpu_ticks"
  echo "$m0 $m1" | awk '{printf "%.0f\n", 100 * ($3 - $1) / ($4 - $2)}' > "$OUT/$label.machine_busy_pct"
  echo "$label: $(jq -c '{held: .connections_held, failed: .connections_failed, msgs_per_s: .messages_per_s, overall_ms: .overall_ms, errors: .call_errors}' "$OUT/$label.json") rss_kb=$(cat "$OUT/$label.rss_kb") idle_rss_kb=${IDLE_RSS:-?} server_cpu_ticks=$(cat "$OUT/$label.cpu_ticks") machine_busy_pct=$(cat "$OUT/$label.machine_busy_pct")"
}

start_cpms() {
  local db=$1
  CPMS__DATABASE__URL=$db CPMS__OCPP__LISTEN=127.0.0.1:$OCPP_PORT CPMS__HTTP__LISTEN=127.0.0.1:$HTTP_PORT \
  CPMS__OCPP__HEARTBEAT_INTERVAL=86400 RUST_LOG=warn \
      "$BIN/cpms" serve > "$OUT/cpms.log" 2>&1 &
  CPMS_PID=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$HTTP_PORT/health" > /dev/null && break; sleep 0.2; done
  local token
  token=$(CPMS__DATABASE__URL=$db "$BIN/cpms" admin-token 2> /dev/null)
  curl -sf -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
      -d '{"id_token":"SIM-TOKEN-1","status":"Accepted"}' "http://127.0.0.1:$HTTP_PORT/api/id-tokens" > /dev/null
  IDLE_RSS=$(rss_kb "$CPMS_PID")
}

stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

TARGETS=${TARGETS:-echo sqlite postgres}
want() { [[ " $TARGETS " == *" $1 "* ]]; }

# 1. The ceiling.
if want echo; then
"$BIN/simulator" echo-server --listen "127.0.0.1:$ECHO_PORT" --heartbeat-interval 86400 2> "$OUT/echo.log" &
ECHO_PID=$!
sleep 0.5
IDLE_RSS=$(rss_kb "$ECHO_PID")
load echo "ws://127.0.0.1:$ECHO_PORT/ocpp" "$ECHO_PID"
stop_pid "$ECHO_PID"
fi

# 2. cpms on SQLite (a fresh file).
if want sqlite; then
rm -rf "$OUT/sqlite" && mkdir -p "$OUT/sqlite"
start_cpms "sqlite://$OUT/sqlite/cpms.db"
load cpms-sqlite "ws://127.0.0.1:$OCPP_PORT/ocpp" "$CPMS_PID"
stop_pid "$CPMS_PID"
fi

# 3. cpms on PostgreSQL (a fresh database).
if [[ -n "${BENCH_PG:-}" ]] && want postgres; then
  DB=simbench_$(date +%s)
  psql "$BENCH_PG/postgres" -qc "CREATE DATABASE $DB"
  start_cpms "$BENCH_PG/$DB"
  load cpms-postgres "ws://127.0.0.1:$OCPP_PORT/ocpp" "$CPMS_PID"
  stop_pid "$CPMS_PID"
  psql "$BENCH_PG/postgres" -qc "DROP DATABASE $DB WITH (FORCE)"
fi
