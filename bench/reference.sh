#!/usr/bin/env bash
# Ingest against the smallest durable receiver there is, in one invocation:
# ../shared/bench/reference-receiver (verify, parse, INSERT OR IGNORE by noticeId into SQLite with
# synchronous=FULL through a group-committing writer, 200 after the commit) beside ncsd with its
# lifecycle deriver and one forwarding destination switched on, alternating ROUNDS times, wrk with
# 64 connections and distinct signed bodies. Then GET /v1/sessions/{sid} p99 and ingest on a store
# of 1M events / 10k sessions against the empty store. Prints both servers' figures, the ratios,
# and which goals hold.
#
#   bench/reference.sh                  # 10 s per run, 3 rounds
#   DURATION=20 ROUNDS=3 bench/reference.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
out=${OUT:-$root/bench/out}
mkdir -p "$out"
secret=bench-secret
port_ncsd=18090
port_ref=18091
port_hook=18092
reference=${REFERENCE:-$root/../shared/bench/reference-receiver}

command -v wrk >/dev/null || { echo "installing wrk" >&2; apt-get install -y -qq wrk >/dev/null; }
cargo build --release --locked -p ncsd -p ncsd-bench >&2
bin=$root/target/release
REFERENCE_TARGET=$root/target/reference "$reference/run.sh" --build-only

bodies=$out/bodies-random-ids.tsv
need=$((DURATION * 90000))
if [ ! -f "$bodies" ] || [ "$(wc -l <"$bodies")" -lt "$need" ]; then
  "$bin/bench-bodies" "$secret" "$need" "$bodies"
fi
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
wait_port() { for _ in $(seq 1 300); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
count() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from events').fetchone()[0])" "$1"; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
hz=$(getconf CLK_TCK)
# Whether ncsd's lifecycle events or session states are still behind its newest event.
behind() { python3 -c "
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
newest = c.execute('select coalesce(max(seq), 0) from events').fetchone()[0]
cur = [c.execute('select v from meta where k=?', (k,)).fetchone() for k in ('lifecycle_cursor', 'states_cursor')]
sys.exit(0 if min(int(r[0]) if r else 0 for r in cur) < newest else 1)" "$1"; }

# A webhook receiver that answers 200 at once, for ncsd's one destination.
python3 -c "
import http.server, socketserver
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get('content-length', 0)))
        self.send_response(200); self.send_header('content-length', '0'); self.end_headers()
    def log_message(self, *a): pass
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(('127.0.0.1', $port_hook), H).serve_forever()
" & hook=$!
trap 'kill $hook 2>/dev/null || true' EXIT
cat >"$out/reference-forward.toml" <<TOML
[[destination]]
name = "bench"
kind = "webhook"
url = "http://127.0.0.1:$port_hook/hook"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
allow_private = true
events = ["recording.*"]
TOML

# run KIND [DB]: one measured run; prints "req/s p99_us cpu_us_per_delivery check
# cpu_us_per_delivery_during_the_load" (for ncsd the first CPU figure includes the background
# work caught up after the load).
run() {
  local kind=$1 db=${2:-$out/$1.db} pid port
  [ -n "${2:-}" ] || rm -f "$db" "$db-wal" "$db-shm"
  sync; sleep 2
  if [ "$kind" = reference ]; then
    REFERENCE_TARGET=$root/target/reference WEBHOOK_SECRET=$secret "$reference/run.sh" "$port_ref" "$db" >/dev/null 2>&1 & pid=$!
    port=$port_ref
  else
    NCSD_LOG=warn "$bin/ncsd" serve --listen "127.0.0.1:$port_ncsd" \
      --database "sqlite://$db" --secret "$secret" --config "$out/reference-forward.toml" & pid=$!
    port=$port_ncsd
  fi
  wait_port "$port"
  local before_rows; before_rows=$(count "$db")
  local before; before=$(cpu_ticks "$pid")
  local res
  res=$(wrk -t2 -c64 -d"${DURATION}s" --latency -s "$root/bench/ingest.lua" "http://127.0.0.1:$port" -- "$bodies" 2 | grep RESULT)
  local after; after=$(cpu_ticks "$pid")
  # ncsd steps its background work aside while deliveries queue; its CPU per delivery counts
  # that work too, once it has caught up with the load (lifecycle events and session states).
  local caught=$after
  if [ "$kind" != reference ]; then
    for _ in $(seq 1 600); do
      behind "$db" || break; sleep 0.1
    done
    caught=$(cpu_ticks "$pid")
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local ok; ok=$(field ok "$res")
  local n=$(( $(count "$db") - before_rows ))
  local check="stored"; [ "$n" -ge "$ok" ] || check="LOST:$((ok - n))"
  echo "$(field rps "$res") $(field p99_us "$res") $(python3 -c "print(round(($caught-$before)/$hz*1e6/max($ok,1),1))") $check $(python3 -c "print(round(($after-$before)/$hz*1e6/max($ok,1),1))")"
}

echo "ingest, 64 connections, ${DURATION} s per run, $ROUNDS rounds (reference, then ncsd)"
printf '%-6s %-10s %10s %10s %14s %-8s %s\n' round server req/s p99_ms cpu_us/deliv check cpu_us/deliv_during_load
results=()
for r in $(seq 1 "$ROUNDS"); do
  ref=$(run reference); printf '%-6s %-10s %10s %10s %14s %-8s %s\n' "$r" reference $(awk '{printf "%s %.2f %s %s %s", $1, $2/1000, $3, $4, $5}' <<<"$ref")
  ncsd=$(run ncsd); printf '%-6s %-10s %10s %10s %14s %-8s %s\n' "$r" ncsd $(awk '{printf "%s %.2f %s %s %s", $1, $2/1000, $3, $4, $5}' <<<"$ncsd")
  results+=("$ref|$ncsd")
done

# The 1M-event store (as bench/run.sh builds it).
big=$out/large-typed-closed.db
if [ ! -f "$out/large.sids" ] || [ ! -f "$big" ]; then
  rm -f "$big" "$big-wal" "$big-shm"
  "$bin/bench-bulkload" "sqlite://$big" 10000 100 >"$out/large.sids"
fi
rm -f "$out/large-ref.db" "$out/large-ref.db-wal" "$out/large-ref.db-shm"
for f in "$big" "$big-wal" "$big-shm"; do if [ -f "$f" ]; then cp "$f" "$out/large-ref.db${f#"$big"}"; fi; done
NCSD_LOG=warn "$bin/ncsd" serve --listen "127.0.0.1:$port_ncsd" --database "sqlite://$out/large-ref.db" --secret "$secret" & pid=$!
wait_port $port_ncsd
# Let the start-up work (lifecycle events and session states of the bulk load) finish first.
started=$(date +%s.%N)
for _ in $(seq 1 300); do
  c=$(python3 -c "import sqlite3,sys; print(min(int(r[0]) if r else 0 for r in [sqlite3.connect(sys.argv[1]).execute(\"select v from meta where k=?\", (k,)).fetchone() for k in ('lifecycle_cursor', 'states_cursor')]))" "$out/large-ref.db")
  [ "$c" -ge 1000000 ] && break; sleep 1
done
echo "start-up on the 1M-event store: lifecycle events and session states derived in $(python3 -c "print(round($(date +%s.%N) - $started))") s"

reads=$(wrk -t2 -c16 -d"${DURATION}s" --latency -s "$root/bench/sessions.lua" "http://127.0.0.1:$port_ncsd" -- "$out/large.sids" | grep RESULT)
kill $pid; wait $pid 2>/dev/null || true
reads_p99=$(field p99_us "$reads")
echo "GET /v1/sessions/{sid}, 1M events / 10k sessions, 16 connections: req/s $(field rps "$reads") p99 $(python3 -c "print($reads_p99/1000)") ms"
large=$(run ncsd "$out/large-ref.db")
empty=$(run ncsd)
echo "ingest at 64 connections into the 1M-event store: $(awk '{print $1}' <<<"$large") req/s; into an empty store: $(awk '{print $1}' <<<"$empty") req/s"

python3 - "$reads_p99" "$large" "$empty" "${results[@]}" <<'PY'
import sys
reads_p99 = float(sys.argv[1]) / 1000
large, empty = float(sys.argv[2].split()[0]), float(sys.argv[3].split()[0])
rounds = [tuple(x.split() for x in r.split('|')) for r in sys.argv[4:]]
print()
print("| round | throughput ncsd ÷ reference (≥ 0.8) | ncsd p99 ms (≤ 5 and ≤ 1.5 × reference) | reference p99 ms | CPU efficiency ncsd ÷ reference (≥ 0.6) | CPU µs per delivery, reference / ncsd (ncsd during the load) | every ack stored |")
print("| --- | --- | --- | --- | --- | --- | --- |")
held = {"throughput": 0, "p99": 0, "cpu": 0, "stored": 0}
for i, (ref, n) in enumerate(rounds, 1):
    t = float(n[0]) / float(ref[0])
    p, rp = float(n[1]) / 1000, float(ref[1]) / 1000
    eff = float(ref[2]) / float(n[2])
    ok = n[3] == "stored"
    held["throughput"] += t >= 0.8
    held["p99"] += p <= 5 and p <= 1.5 * rp
    held["cpu"] += eff >= 0.6
    held["stored"] += ok
    print(f"| {i} | {t:.2f} | {p:.2f} | {rp:.2f} | {eff:.2f} | {ref[2]} / {n[2]} ({n[4]}) | {ok} |")
n = len(rounds)
need = (2 * n + 2) // 3
print()
for k, v in held.items():
    print(f"goal {k}: held in {v} of {n} rounds ({'met' if v >= need else 'not met'})")
print(f"goal session read p99 ≤ 5 ms at 1M events: {reads_p99:.2f} ms ({'met' if reads_p99 <= 5 else 'not met'})")
print(f"goal ingest at 1M ÷ empty ≥ 0.8: {large / empty:.2f} ({'met' if large / empty >= 0.8 else 'not met'})")
PY
