#!/usr/bin/env bash
# Ingest latency below saturation: ncsd (SQLite, default settings), the do-nothing server and
# the hand-written handler with every 200 synced (bench/src/bin/handwritten.rs), each driven by
# wrk at a few set rates (bench/paced.lua: every connection waits before each request) instead
# of as fast as it can, as NCS traffic arrives. Prints the rate reached and
# p50/p99/p99.9 for each. The ingest goals of bench/run.sh are at saturation; this shows the
# latency a delivery sees at the rates a busy deployment sees.
#
#   bench/paced.sh                      # 16 connections, 1,000 / 4,000 / 8,000 req/s, 8 s each
#   RATES="2000 10000" DURATION=20 bench/paced.sh
#   KINDS="baseline ncsd" bench/paced.sh  # some of the servers only
# Run bench/run.sh once first: it builds release and writes the signed bodies.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=${TARGET_DIR:-${CARGO_TARGET_DIR:-$root/target}}/release
bodies=$root/bench/out/bodies-random-ids.tsv
[ -x "$bin/ncsd" ] && [ -x "$bin/baseline" ] && [ -x "$bin/handwritten" ] && [ -f "$bodies" ] || { echo "run bench/run.sh first" >&2; exit 1; }
conns=${CONNS:-16}; duration=${DURATION:-8}; port=18082
rates=${RATES:-1000 4000 8000}
kinds=${KINDS:-baseline handwritten ncsd}
wait_port() { for _ in $(seq 1 300); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && return 0; sleep 0.1; done; return 1; }

printf '%-12s %8s %10s %8s %8s %9s\n' server rate req/s p50_us p99_us p99.9_us
for rate in $rates; do
  pace=$((conns * 1000 / rate))
  for kind in $kinds; do
    # Let the disk settle first: deleted databases are discarded, dirty pages written back.
    db=$root/bench/out/paced.db
    rm -f "$db" "$db-wal" "$db-shm"
    sync; sleep "${SETTLE:-2}"
    if [ "$kind" = baseline ]; then
      "$bin/baseline" "127.0.0.1:$port" & pid=$!
    elif [ "$kind" = handwritten ]; then
      "$bin/handwritten" "127.0.0.1:$port" "$db" bench-secret full & pid=$!
    else
      NCSD_LOG=warn "$bin/ncsd" serve --listen "127.0.0.1:$port" --database "sqlite://$db" --secret bench-secret & pid=$!
    fi
    wait_port
    out=$(wrk -t2 -c"$conns" -d"${duration}s" --latency -s "$root/bench/paced.lua" "http://127.0.0.1:$port" -- "$bodies" 2 "$pace")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    res=$(grep RESULT <<<"$out")
    printf '%-12s %8s %10s %8s %8s %9s\n' "$kind" "$rate" \
      "$(sed -n 's/.*rps=\([0-9.]*\).*/\1/p' <<<"$res")" \
      "$(sed -n 's/.*p50_us=\([0-9]*\).*/\1/p' <<<"$res")" \
      "$(sed -n 's/.*p99_us=\([0-9]*\).*/\1/p' <<<"$res")" \
      "$(sed -n 's/.*p999_us=\([0-9]*\).*/\1/p' <<<"$res")"
  done
done
