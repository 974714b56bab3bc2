#!/usr/bin/env bash
# Where ncsd's CPU goes, thread by thread: one ingest run (SQLite, default settings) driven by
# wrk as in run.sh, then per thread kind (tokio workers, SQLite writer, checkpointer, writeback)
# the CPU time, bytes and write syscalls, and voluntary context switches per acknowledged event,
# read from /proc/<pid>/task/*/{stat,io,status} before and after.
#
#   bench/threads.sh                  # 64 connections, 8 s, database under bench/out
#   CONNS=16 DURATION=5 bench/threads.sh
#   DB=/dev/shm/t.db bench/threads.sh # on tmpfs: what the disk's sync latency costs
#   EXTRA="--writer-nice 0" bench/threads.sh
# Run bench/run.sh once first: it builds release and writes the signed bodies.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=${TARGET_DIR:-${CARGO_TARGET_DIR:-$root/target}}/release
bodies=$root/bench/out/bodies-random-ids.tsv
[ -x "$bin/ncsd" ] && [ -f "$bodies" ] || { echo "run bench/run.sh first" >&2; exit 1; }
conns=${CONNS:-64}; duration=${DURATION:-8}; port=18082
db=${DB:-$root/bench/out/threads.db}; rm -f "$db" "$db-wal" "$db-shm"
# shellcheck disable=SC2086
NCSD_LOG=warn "$bin/ncsd" serve --listen "127.0.0.1:$port" --database "sqlite://$db" --secret bench-secret ${EXTRA:-} & pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
# One line per thread kind: name, bytes written, write syscalls, CPU ticks, voluntary switches.
snapshot() {
  for t in /proc/$pid/task/*; do
    printf '%s %s %s %s\n' "$(tr ' ' '_' <"$t/comm")" \
      "$(awk '/^wchar|^syscw/ {printf "%s ", $2}' "$t/io")" \
      "$(awk '{print $14 + $15}' "$t/stat")" \
      "$(awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status")"
  done | awk '{w[$1]+=$2; s[$1]+=$3; c[$1]+=$4; x[$1]+=$5} END {for (k in w) print k, w[k], s[k], c[k], x[k]}' | sort
}
before=$(snapshot)
res=$(wrk -t2 -c"$conns" -d"${duration}s" --latency -s "$root/bench/ingest.lua" "http://127.0.0.1:$port" -- "$bodies" 2 | grep RESULT)
after=$(snapshot)
echo "$res"
ok=$(sed -n 's/.*ok=\([0-9]*\).*/\1/p' <<<"$res")
hz=$(getconf CLK_TCK)
# After the join: $1 kind; before $2-$5 and after $6-$9 (bytes, syscalls, ticks, switches).
join <(echo "$before") <(echo "$after") | awk -v ok="$ok" -v hz="$hz" '{
  printf "%-18s cpu_us/ev=%6.1f  written_bytes/ev=%6.0f  write_syscalls/ev=%5.2f  switches/ev=%5.2f\n",
    $1, ($8 - $4) / hz * 1e6 / ok, ($6 - $2) / ok, ($7 - $3) / ok, ($9 - $5) / ok }'
