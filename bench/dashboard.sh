#!/usr/bin/env bash
# The dashboard's page-render benchmark: loads a store with SESSIONS × EVENTS events (default
# 10,000 × 100 = 1M) once, then times every page against the release ncsd (bench-pages).
# Goal: every page under 100 ms at p99.
#
#   bench/dashboard.sh
#   SESSIONS=1000 EVENTS=100 REQUESTS=100 bench/dashboard.sh   # a quick run
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p ncsd -p ncsd-bench --bin ncsd --bin bench-bulkload --bin bench-pages
mkdir -p bench/out
sessions="${SESSIONS:-10000}"
events="${EVENTS:-100}"
db="bench/out/dashboard-${sessions}x${events}.db"
if [ ! -f "$db" ]; then
  echo "loading $sessions sessions × $events events into $db" >&2
  target/release/bench-bulkload "sqlite://$db" "$sessions" "$events" >/dev/null
fi
target/release/bench-pages --database "sqlite://$db" --requests "${REQUESTS:-300}" \
  --concurrency "${CONCURRENCY:-4}"
