#!/usr/bin/env bash
# Alternating A/B ingest runs of two ncsd builds or settings: A, B, A, B, ... each on a fresh
# SQLite store, driven by wrk with the signed bodies of bench/run.sh (run that once first).
# On a shared machine only alternating pairs compare anything: the host's load drifts.
#
#   bench/ab.sh ROUNDS CONNS A B
#
# A and B are each a directory holding an `ncsd` binary (e.g. another checkout's
# target/release), or `VAR=value` settings passed to target/release/ncsd ("-" for none).
#   bench/ab.sh 3 64 /tmp/old/target/release target/release
#   DURATION=8 bench/ab.sh 4 16 - "NCSD_LOG=warn"
# FROM=FILE starts each run on a copy of that SQLite store instead of an empty one; ENV="VAR=value
# ..." is passed to both sides:
#   FROM=bench/out/large-typed-closed.db ENV=NCSD_LOG=warn bench/ab.sh 3 64 OLD NEW
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
[ $# -eq 4 ] || { sed -n 2,14p "$0" >&2; exit 2; }
rounds=$1 conns=$2
DURATION=${DURATION:-6}
out=${OUT:-$root/bench/out}
bodies=$out/bodies-random-ids.tsv
port=18090
[ -f "$bodies" ] || { echo "no $bodies: run bench/run.sh (or bench-bodies) first" >&2; exit 1; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
hz=$(getconf CLK_TCK)

one() {
  local variant=$1 bin=$root/target/release envs=()
  if [ -d "$variant" ]; then bin=$variant; elif [ "$variant" != - ]; then read -ra envs <<<"$variant"; fi
  if [ -n "${ENV:-}" ]; then local more; read -ra more <<<"$ENV"; envs+=("${more[@]}"); fi
  local db=$out/ab.db
  rm -f "$db" "$db-wal" "$db-shm"
  if [ -n "${FROM:-}" ]; then
    for f in "$FROM" "$FROM-wal"; do if [ -f "$f" ]; then cp "$f" "$db${f#"$FROM"}"; fi; done
  fi
  # Let the disk settle: the deleted store is discarded, the copy written back.
  sync; sleep 2
  sync; sleep 2
  env "${envs[@]}" NCSD_LOG=warn "$bin/ncsd" serve --listen "127.0.0.1:$port" --database "sqlite://$db" --secret bench-secret &
  local pid=$!
  for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  local t0 t1 res
  t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  res=$(wrk -t2 -c"$conns" -d"${DURATION}s" --latency -s "$root/bench/ingest.lua" "http://127.0.0.1:$port" -- "$bodies" 2 | grep RESULT)
  t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local ok; ok=$(field ok "$res")
  printf '%-40s c%-3s req/s %9s  p50 %6s us  p99 %6s us  cpu/ev %s us\n' "$variant" "$conns" \
    "$(field rps "$res")" "$(field p50_us "$res")" "$(field p99_us "$res")" \
    "$(python3 -c "print(round(($t1 - $t0) / $hz * 1e6 / max($ok, 1), 1))")"
}

for _ in $(seq 1 "$rounds"); do one "$3"; one "$4"; done
rm -f "$out/ab.db" "$out/ab.db-wal" "$out/ab.db-shm"
