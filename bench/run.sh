#!/usr/bin/env bash
# Ingest benchmark: ncsd (SQLite, default durability: every 200 fsynced) against a do-nothing
# axum server (and against two instruments: ncsd-nostore, ncsd with ingest answered before
# storage, and ncsd-nostore --journal, which answers after appending the body to a file and
# fdatasyncing it: the cheapest durable acknowledgement; and the hand-written handler a user would
# otherwise run: axum + one rusqlite connection behind a mutex), driven by wrk
# with distinct signed bodies, at 16 and 64 connections; then
# live sessions (each event POSTed, then its session read), then GET /v1/sessions/{sid} and ingest
# on a store holding 1M events in 10k sessions.
# Prints requests/s, p50/p99, CPU per event, peak memory, and ncsd/baseline ratios from this
# very run (the machine is shared: only same-run ratios mean anything).
#
#   bench/run.sh                 # 10 s per run
#   DURATION=30 bench/run.sh     # longer runs
#   SKIP_LARGE=1 bench/run.sh    # skip the 1M-event part
#   TARGET_DIR=/tmp/t bench/run.sh  # build and run from another cargo target directory
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
DURATION=${DURATION:-10}
LARGE_SESSIONS=${LARGE_SESSIONS:-10000}
LARGE_EVENTS=${LARGE_EVENTS:-100}
out=${OUT:-$root/bench/out}
mkdir -p "$out"
secret=bench-secret
port_ncsd=18080
port_base=18081

command -v wrk >/dev/null || { echo "installing wrk" >&2; apt-get install -y -qq wrk >/dev/null; }
# TARGET_DIR (or CARGO_TARGET_DIR) puts the build elsewhere than ./target.
target=${TARGET_DIR:-${CARGO_TARGET_DIR:-$root/target}}
CARGO_TARGET_DIR=$target cargo build --release --locked -p ncsd -p ncsd-bench >&2
bin=$target/release

# Enough distinct bodies for the fastest run (wrapping around would send duplicates).
bodies=$out/bodies-random-ids.tsv
need=${BODIES:-$((DURATION * 90000))}
if [ ! -f "$bodies" ] || [ "$(wc -l <"$bodies")" -lt "$need" ]; then
  echo "generating $need signed bodies" >&2
  "$bin/bench-bodies" "$secret" "$need" "$bodies"
fi

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
peak_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
wait_port() { for _ in $(seq 1 300); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
stored() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from events').fetchone()[0])" "$1"; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
hz=$(getconf CLK_TCK)

for p in $port_ncsd $port_base; do
  if (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "port $p is in use: stop what listens there" >&2; exit 1; fi
done
# Before each measured run: the files the runs before deleted (a 512 MiB journal, databases of
# hundreds of MB) are discarded by the file system (mounted with `discard`) and their dirty
# pages written back; a run started at once shares the disk with that, and its fsyncs show it.
settle() { sync; sleep "${SETTLE:-2}"; }
# run NAME KIND CONNS [DB]: start the server, drive it, print one result row
run() {
  local name=$1 kind=$2 conns=$3 db=${4:-}
  local pid port
  rm -f "$out/nostore.db" "$out/nostore.db-wal" "$out/nostore.db-shm" "$out/journal.log"
  rm -f "$out/handwritten.db" "$out/handwritten.db-wal" "$out/handwritten.db-shm"
  if [ "$kind" = ncsd ] && [ -z "$db" ]; then rm -f "$out/ncsd-$conns.db" "$out/ncsd-$conns.db-wal" "$out/ncsd-$conns.db-shm"; fi
  settle
  if [ "$kind" = baseline ]; then
    "$bin/baseline" "127.0.0.1:$port_base" & pid=$!; port=$port_base
  elif [ "$kind" = handwritten ] || [ "$kind" = handwritten-normal ]; then
    db=$out/handwritten.db
    local sync=full; [ "$kind" = handwritten-normal ] && sync=normal
    "$bin/handwritten" "127.0.0.1:$port_base" "$db" "$secret" "$sync" & pid=$!; port=$port_base
  elif [ "$kind" = nostore ] || [ "$kind" = journal ]; then
    db=$out/nostore.db
    local journal=(); [ "$kind" = journal ] && journal=(--journal "$out/journal.log")
    NCSD_LOG=warn "$bin/ncsd-nostore" --listen "127.0.0.1:$port_ncsd" --database "sqlite://$db" --secret "$secret" "${journal[@]}" 2>/dev/null & pid=$!
    port=$port_ncsd
  else
    if [ -z "$db" ]; then db=$out/ncsd-$conns.db; fi
    NCSD_LOG=warn "$bin/ncsd" serve --listen "127.0.0.1:$port_ncsd" --database "sqlite://$db" --secret "$secret" & pid=$!
    port=$port_ncsd
  fi
  wait_port "$port"
  local stored_before=0
  [ "$kind" = ncsd ] && stored_before=$(stored "$db")
  local before; before=$(cpu_ticks "$pid")
  local res
  res=$(wrk -t2 -c"$conns" -d"${DURATION}s" --latency -s "$root/bench/ingest.lua" "http://127.0.0.1:$port" -- "$bodies" 2 | grep RESULT)
  local after; after=$(cpu_ticks "$pid")
  local mem; mem=$(peak_kib "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -f "$out/journal.log"
  local ok; ok=$(field ok "$res")
  local cpu_us; cpu_us=$(python3 -c "print(round(($after-$before)/$hz*1e6/max($ok,1),1))")
  local check=""
  if [ "$kind" = ncsd ] || [ "${kind#handwritten}" != "$kind" ]; then
    local n; n=$(( $(stored "$db") - stored_before ))
    if [ "$(field wrapped "$res")" != 0 ]; then check="bodies wrapped: raise BODIES"; 
    elif [ "$n" -ge "$ok" ]; then check="all $ok acknowledged stored"; else check="LOST: $ok acknowledged, $n stored"; fi
  fi
  echo "$name $(field rps "$res") $(field p50_us "$res") $(field p99_us "$res") $cpu_us $((mem / 1024)) $(field non200 "$res") $check"
}

printf '%-22s %10s %8s %8s %10s %8s %6s %s\n' run req/s p50_us p99_us cpu_us/ev peak_MiB non200 check
# Each connection count runs six servers: the do-nothing baseline; ncsd-nostore, which is
# ncsd with the store's ingest answering at once (HTTP, signature check, parse and ack only);
# the same with --journal (append + fdatasync, no index: the most any durable design could
# reach here); the hand-written handler a user would otherwise run (axum + one rusqlite
# connection behind a mutex, WAL, every 200 synced; and with synchronous=NORMAL, its 200s not
# synced); and ncsd itself.
for c in 16 64; do
  b=$(run "baseline-c$c" baseline "$c"); echo "$b"
  h=$(run "handwritten-c$c" handwritten "$c"); echo "$h"
  hn=$(run "handwritten-normal-c$c" handwritten-normal "$c"); echo "$hn"
  x=$(run "nostore-c$c" nostore "$c"); echo "$x"
  j=$(run "journal-c$c" journal "$c"); echo "$j"
  n=$(run "ncsd-c$c" ncsd "$c"); echo "$n"
  python3 -c "b=float('$b'.split()[1]); x=float('$x'.split()[1]); j=float('$j'.split()[1]); n=float('$n'.split()[1]); h=float('$h'.split()[1]); hn=float('$hn'.split()[1]); print(f'ratio ncsd/baseline at {$c} connections: {n/b:.2f} (without storage: {x/b:.2f}; journal append only: {j/b:.2f}; hand-written handler: {h/b:.2f}); ncsd/hand-written: {n/h:.2f} (synced 200s), {n/hn:.2f} (synchronous=NORMAL)')"
  # For the goals' summary at the end: ratio at 64, p99s, peak memory.
  nr=$(awk '{print $2}' <<<"$n"); br=$(awk '{print $2}' <<<"$b")
  declare "ratio$c=$(python3 -c "print(f'{$nr / $br:.2f}')")"
  declare "p99_$c=$(awk '{print $4}' <<<"$n")" "rss_$c=$(awk '{print $6}' <<<"$n")"
  # The journal instrument beside each goal: what durability alone allowed in this run, and
  # whether the disk was slow for everyone (its p99 rises with ncsd's when another tenant
  # loads the disk).
  jr=$(awk '{print $2}' <<<"$j")
  declare "jratio$c=$(python3 -c "print(f'{$jr / $br:.2f}')")" "jp99_$c=$(awk '{print $4}' <<<"$j")"
  [ "$c" = 64 ] && empty64=$nr
done

# Live recordings watched while they report (bench/ingest.lua in then-read mode): each POST of
# an event is followed by a GET of its session; 100 sessions, so each grows by ~100 events a
# run. The state keeper carries each session's fold forward over its new events; a read folds
# the session itself when it comes before the keeper's next round.
live_bodies=$out/bodies-live-100.tsv
need_live=$((DURATION * 20000))
if [ ! -f "$live_bodies" ] || [ "$(wc -l <"$live_bodies")" -lt "$need_live" ]; then
  "$bin/bench-bodies" "$secret" "$need_live" "$live_bodies" 100
fi
live() {
  local label=$1; shift
  local db=$out/live.db; rm -f "$db" "$db-wal" "$db-shm"
  settle
  NCSD_LOG=warn "$bin/ncsd" serve --listen "127.0.0.1:$port_ncsd" --database "sqlite://$db" --secret "$secret" "$@" & pid=$!
  wait_port $port_ncsd
  res=$(wrk -t2 -c16 -d"${DURATION}s" --latency -s "$root/bench/ingest.lua" "http://127.0.0.1:$port_ncsd" -- "$live_bodies" 2 then-read | grep RESULT)
  kill $pid; wait $pid 2>/dev/null || true
  echo "live sessions (POST an event, GET its session), 16 connections, $label: req/s $(field rps "$res") p50_us $(field p50_us "$res") p99_us $(field p99_us "$res") errors $(field non200 "$res")"
}
live "kept by the state keeper"

if [ "${SKIP_LARGE:-0}" != 1 ]; then
  # Named for the loader's layout (sessions interleaved, details per event type, the WAL
  # emptied at the end as ncsd does when it stops), so a store from an older loader is not
  # reused.
  big=$out/large-typed-closed.db
  if [ ! -f "$out/large.sids" ] || [ ! -f "$big" ]; then
    rm -f "$big" "$big-wal" "$big-shm"
    echo "bulk-loading $LARGE_SESSIONS sessions x $LARGE_EVENTS events" >&2
    "$bin/bench-bulkload" "sqlite://$big" "$LARGE_SESSIONS" "$LARGE_EVENTS" >"$out/large.sids"
  fi
  # The WAL may still hold the last of the bulk load: copy it along.
  rm -f "$out/large-run.db" "$out/large-run.db-wal" "$out/large-run.db-shm"
  for f in "$big" "$big-wal" "$big-shm"; do if [ -f "$f" ]; then cp "$f" "$out/large-run.db${f#"$big"}"; fi; done
  # Session reads, twice: from the moment ncsd listens on this bulk-loaded store (nothing kept
  # yet: reads fold while the state keeper works through the store beside them), and once the
  # keeper is done, with how long it took.
  reads() {
    local label=$1; shift
    local log=$out/reads.log
    settle
    NCSD_LOG=info "$bin/ncsd" serve --listen "127.0.0.1:$port_ncsd" --database "sqlite://$out/large-run.db" --secret "$secret" "$@" 2>"$log" & pid=$!
    wait_port $port_ncsd
    local warmed="" t0; t0=$(date +%s.%N)
    if [ "$label" = kept ]; then
      for _ in $(seq 1 600); do
        c=$(python3 -c "import sqlite3,sys; r=sqlite3.connect(sys.argv[1]).execute(\"select v from meta where k='states_cursor'\").fetchone(); print(r[0] if r else 0)" "$out/large-run.db")
        [ "$c" -ge $((LARGE_SESSIONS * LARGE_EVENTS)) ] && break; sleep 0.5
      done
      warmed=" kept_in_s $(python3 -c "print(round($(date +%s.%N) - $t0, 1))")"
    fi
    res=$(wrk -t2 -c16 -d"${DURATION}s" --latency -s "$root/bench/sessions.lua" "http://127.0.0.1:$port_ncsd" -- "$out/large.sids" | grep RESULT)
    local anon; anon=$(awk '/RssAnon/ {print int($2/1024)}' "/proc/$pid/status")
    kill $pid; wait $pid 2>/dev/null || true
    echo "GET /v1/sessions/{sid}, $((LARGE_SESSIONS * LARGE_EVENTS)) events stored, 16 connections, $label: req/s $(field rps "$res") p50_us $(field p50_us "$res") p99_us $(field p99_us "$res") errors $(field errors "$res") anon_MiB $anon$warmed"
  }
  reads "from start-up, first start on this store"
  kept=$(reads kept); echo "$kept"
  # Ingest on the large store (its states kept by the run before).
  n=$(run "ncsd-c64-large" ncsd 64 "$out/large-run.db"); echo "$n"
  lr=$(awk '{print $2}' <<<"$n")
  large=$(python3 -c "print(f'{$lr / $empty64:.2f}')")
  echo "ingest at 64 connections, large store / empty store: $large"
  reads_p99=$(sed 's/.*p99_us \([0-9]*\).*/\1/' <<<"$kept")
fi

# The goals against this run (the machine is shared: rerun before concluding).
verdict() { if python3 -c "import sys; sys.exit(0 if $1 else 1)"; then echo met; else echo "NOT met"; fi; }
ms() { python3 -c "print(f'{$1 / 1000:.1f} ms')"; }
echo
echo "goals, this run:"
echo "  ncsd / do-nothing at 64 connections >= 0.6: $ratio64 ($(verdict "$ratio64 >= 0.6"); the journal, the cheapest durable ack: $jratio64)"
echo "  ncsd p99 at 16 connections <= 5 ms: $(ms "$p99_16") ($(verdict "$p99_16 <= 5000"); journal p99: $(ms "$jp99_16"))"
echo "  ncsd p99 at 64 connections <= 10 ms: $(ms "$p99_64") ($(verdict "$p99_64 <= 10000"); journal p99: $(ms "$jp99_64"))"
rss=$(( rss_16 > rss_64 ? rss_16 : rss_64 ))
echo "  peak RSS under ingest <= 64 MiB: $rss MiB ($(verdict "$rss <= 64"))"
if [ -n "${reads_p99:-}" ]; then
  echo "  GET /v1/sessions/{sid} p99 with 1M events <= 5 ms: $(ms "$reads_p99") ($(verdict "$reads_p99 <= 5000"))"
  echo "  ingest on the 1M-event store within 20% of the empty store: ${large}x ($(verdict "$large >= 0.8"))"
fi
