#!/usr/bin/env bash
# Fuzz agora-ncs with cargo-fuzz (libFuzzer): every target in fuzz/fuzz_targets
# for SECONDS each (default 60), stopping at the first crash.
#
#   fuzz/run.sh            # 60 s per target
#   fuzz/run.sh 3600       # an hour per target
#
# Environment:
#   FUZZ_TARGETS="envelope"   only these targets (default: all, from `cargo fuzz list`)
#   FUZZ_SANITIZER=none       sanitizer for cargo fuzz (default: address)
#   CARGO_TARGET_DIR          build dir (default: fuzz/target)
#   FUZZ_JOBS=N               parallel libFuzzer workers per target (default 1)
#
# Works on a stable toolchain: cargo-fuzz passes nightly-only -Z flags, which
# RUSTC_BOOTSTRAP=1 lets stable rustc accept.
#
# Exit status: 0 when every target ran clean; 1 on a crash (the input is in
# fuzz/artifacts/<target>/, its base64 is printed); 2 on a setup/build error.
set -uo pipefail

secs="${1:-60}"
case "$secs" in
'' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2 ;;
esac

fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$fuzz_dir")"
cd "$root" || exit 2

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$fuzz_dir/target}"
sanitizer="${FUZZ_SANITIZER:-address}"
jobs="${FUZZ_JOBS:-1}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz (cargo install cargo-fuzz --locked)"
    cargo install cargo-fuzz --locked || { echo "cargo-fuzz install failed" >&2; exit 2; }
fi

fz=(cargo fuzz)
common=(--fuzz-dir "$fuzz_dir" --sanitizer "$sanitizer")

if [ -n "${FUZZ_TARGETS:-}" ]; then
    read -r -a targets <<<"$FUZZ_TARGETS"
else
    mapfile -t targets < <("${fz[@]}" list --fuzz-dir "$fuzz_dir")
fi
[ "${#targets[@]}" -gt 0 ] || { echo "no fuzz targets found" >&2; exit 2; }

echo "==> building ${targets[*]} (sanitizer: $sanitizer, target dir: $CARGO_TARGET_DIR)"
for t in "${targets[@]}"; do
    "${fz[@]}" build "${common[@]}" "$t" || { echo "build of $t failed" >&2; exit 2; }
done

log_dir="$fuzz_dir/logs"
mkdir -p "$log_dir"
summary=()
status=0
for t in "${targets[@]}"; do
    corpus="$fuzz_dir/corpus/$t"
    artifacts="$fuzz_dir/artifacts/$t"
    log="$log_dir/$t.log"
    mkdir -p "$corpus" "$artifacts"
    marker="$(mktemp)"
    extra=()
    [ -f "$fuzz_dir/$t.dict" ] && extra+=("-dict=$fuzz_dir/$t.dict")
    [ "$jobs" -gt 1 ] && extra+=("-fork=$jobs")

    echo "==> fuzzing $t for ${secs}s (log: ${log#"$root"/})"
    "${fz[@]}" run "${common[@]}" "$t" "$corpus" -- \
        -max_total_time="$secs" -timeout=10 -print_final_stats=1 "${extra[@]}" \
        >"$log" 2>&1
    rc=$?

    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)"
    eps="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)"
    new="$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -n1)"
    corp="$(grep -o 'corp: [0-9]*/[0-9]*[bKM]*b*' "$log" | tail -n1 | sed 's/corp: //')"
    files="$(find "$corpus" -type f | wc -l)"

    if [ "$rc" -eq 0 ]; then
        line="$t: ok    runs=${runs:-?} exec/s=${eps:-?} corpus=${files} files (${corp:-?} in use) new=${new:-?}"
        echo "$line"
        summary+=("$line")
        rm -f "$marker"
        continue
    fi

    crash="$(find "$artifacts" -type f -newer "$marker" | head -n1)"
    rm -f "$marker"
    if [ -z "$crash" ]; then
        echo "$t: ERROR (exit $rc, no crash artifact); last lines of $log:" >&2
        tail -n 30 "$log" >&2
        exit 2
    fi
    line="$t: CRASH runs=${runs:-?} exec/s=${eps:-?} corpus=${files} files input=${crash#"$root"/}"
    echo "$line"
    summary+=("$line")
    echo "---- panic / sanitizer report ($log) ----"
    grep -m1 -A12 -E "panicked at|ERROR: (libFuzzer|AddressSanitizer)" "$log" || tail -n 40 "$log"
    echo "---- input (base64) ----"
    base64 -w0 "$crash"; echo
    echo "---- reproduce / minimise ----"
    echo "RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz --sanitizer $sanitizer $t ${crash#"$root"/}"
    echo "RUSTC_BOOTSTRAP=1 cargo fuzz tmin --fuzz-dir fuzz --sanitizer $sanitizer $t ${crash#"$root"/}"
    status=1
    break
done

echo "==> summary (${secs}s per target)"
printf '  %s\n' "${summary[@]}"
exit "$status"
