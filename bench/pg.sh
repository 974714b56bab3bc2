#!/usr/bin/env bash
# PostgreSQL ingest benchmark: ncsd on PostgreSQL (group commit) against a plain single-row
# `INSERT ... ON CONFLICT DO NOTHING` pgbench run, both at the same concurrency on this machine,
# in one invocation; prints both rates and the ratio.
#
#   bench/pg.sh                       # 64 clients, 10 s each
#   CLIENTS=16 DURATION=30 bench/pg.sh
#   PGURL=postgres://postgres@127.0.0.1:5432/postgres bench/pg.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-64}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/postgres}
target=${TARGET_DIR:-$root/target}
out=$root/bench/out
mkdir -p "$out"
secret=bench-secret
port=18082
db=ncsd_bench_$$

command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
command -v pgbench >/dev/null || apt-get install -y -qq postgresql-client >/dev/null
cargo build --release --locked -p ncsd -p ncsd-bench >&2
bodies=$out/bodies-random-ids.tsv
need=$((DURATION * 60000))
if [ ! -f "$bodies" ] || [ "$(wc -l <"$bodies")" -lt "$need" ]; then
  "$target/release/bench-bodies" "$secret" "$need" "$bodies"
fi
dburl="${PGURL%/*}/$db"
psql -q "$PGURL" -c "CREATE DATABASE $db"
trap 'psql -q "$PGURL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT

# 1. The plain baseline: one durable single-row insert per transaction, like a hand-written
#    handler would do, with a body of the same size as the benchmark's notifications.
psql -q "$dburl" -c "CREATE TABLE plain (notice_id TEXT PRIMARY KEY, body BYTEA NOT NULL)"
body=$(head -1 "$bodies" | cut -f2 | sed "s/'/''/g")
cat >"$out/plain.sql" <<SQL
\set id random(1, 9000000000000000)
INSERT INTO plain (notice_id, body) VALUES (:id::text || ':' || :client_id, convert_to('$body', 'UTF8')) ON CONFLICT DO NOTHING;
SQL
pg=$(pgbench -n -c "$CLIENTS" -j 2 -T "$DURATION" -f "$out/plain.sql" "$dburl" 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p')

# 2. ncsd on the same server, its own schema in the same database.
NCSD_LOG=warn "$target/release/ncsd" serve --listen "127.0.0.1:$port" --database "$dburl" --secret "$secret" & pid=$!
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
res=$(wrk -t2 -c"$CLIENTS" -d"${DURATION}s" --latency -s "$root/bench/ingest.lua" "http://127.0.0.1:$port" -- "$bodies" 2 | grep RESULT)
kill $pid; wait $pid 2>/dev/null || true
rps=$(sed -n 's/.*rps=\([0-9.]*\).*/\1/p' <<<"$res")
ok=$(sed -n 's/.*ok=\([0-9]*\).*/\1/p' <<<"$res")
stored=$(psql -tA "$dburl" -c "SELECT count(*) FROM events")
echo "pgbench single-row INSERT ... ON CONFLICT DO NOTHING, $CLIENTS clients: $pg tps"
echo "ncsd on PostgreSQL, $CLIENTS connections: $rps req/s ($res)"
echo "every 200 stored: $([ "$stored" -ge "$ok" ] && echo yes || echo "NO ($ok acknowledged, $stored stored)")"
python3 -c "print(f'ratio ncsd / pgbench: {float(\"$rps\")/float(\"$pg\"):.2f}')"
