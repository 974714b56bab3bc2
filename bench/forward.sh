#!/usr/bin/env bash
# The forwarding benchmark: ingest with one webhook destination against without (goal ≥ 0.8×),
# the delivery rate to a local receiver that answers at once (goal ≥ 5,000 messages/s), and the
# end-to-end lag p99 at 1,000 events/s (goal ≤ 1 s), all in one run (bench-forward).
#
#   bench/forward.sh            # 8 s per measurement
#   DURATION=20 CONNS=64 bench/forward.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p ncsd -p ncsd-bench --bin ncsd --bin bench-forward
mkdir -p bench/out
target/release/bench-forward --ncsd target/release/ncsd --duration "${DURATION:-8}" \
  --conns "${CONNS:-64}" --out bench/out
