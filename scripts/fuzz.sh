#!/usr/bin/env bash
# Runs every cargo-fuzz target of KumoCMS (fuzz/), each for a bounded time, and
# prints executions, coverage and the outcome per target. Not part of scripts/test.sh.
#
#   scripts/fuzz.sh [seconds-per-target] [target...]     (default 600 s, every target)
#
#   FUZZ_JOBS=2        targets run side by side (default 1; the runs are CPU-bound)
#   FUZZ_FEATURES=     build without the AWS-side targets (default "aws": the
#                      authorizer, REST proxy, EventBridge and SQS parsers, which
#                      pull in the AWS SDK and make the first build long)
#
# Needs a nightly toolchain and cargo-fuzz (installed from crates.io if missing).
# Runs at the lowest CPU priority. New inputs libFuzzer finds go to
# fuzz/target/corpus/<target>; the committed seeds (fuzz/corpus/<target>/seed-*)
# are only read. A crash leaves its input in fuzz/artifacts/<target>/ and makes the
# script exit non-zero: reproduce with
#   cargo +nightly fuzz run -s none --features aws <target> fuzz/artifacts/<target>/<file>
# and turn it into a regression test in the normal test suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/fuzz"

seconds="${1:-600}"
shift || true
jobs="${FUZZ_JOBS:-1}"
features="${FUZZ_FEATURES-aws}"
triple="$(rustc +nightly -vV | sed -n 's/^host: //p')"

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz.sh needs a nightly toolchain: rustup toolchain install nightly" >&2
  exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

feature_args=()
[[ -n "$features" ]] && feature_args=(--features "$features")
echo "==> building the fuzz targets (nightly, no sanitizer, debug assertions on)"
nice -n 19 cargo +nightly fuzz build -s none "${feature_args[@]}"

if [[ $# -gt 0 ]]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list "${feature_args[@]}")
  if [[ -z "$features" ]]; then
    mapfile -t targets < <(for t in "${targets[@]}"; do
      [[ -x "target/$triple/release/$t" ]] && echo "$t"; done)
  fi
fi

logs="target/logs"
mkdir -p "$logs"

run_one() {
  local target="$1"
  mkdir -p "target/corpus/$target" "artifacts/$target" "corpus/$target"
  local status=0
  nice -n 19 "target/$triple/release/$target" \
    "target/corpus/$target" "corpus/$target" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="artifacts/$target/" \
    >"$logs/$target.log" 2>&1 || status=$?
  echo "$status" >"$logs/$target.status"
}

echo "==> fuzzing ${#targets[@]} targets for ${seconds}s each, $jobs at a time (logs in fuzz/$logs)"
running=0
for target in "${targets[@]}"; do
  run_one "$target" &
  running=$((running + 1))
  if [[ $running -ge $jobs ]]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

failed=0
printf '\n%-16s %12s %8s %8s %8s  %s\n' target execs exec/s cov ft result
for target in "${targets[@]}"; do
  log="$logs/$target.log"
  status="$(cat "$logs/$target.status" 2>/dev/null || echo '?')"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  last="$(grep -E '^#[0-9]+' "$log" | tail -1 || true)"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
  if [[ "$status" == 0 ]] && ! ls "artifacts/$target"/crash-* "artifacts/$target"/timeout-* \
      "artifacts/$target"/oom-* >/dev/null 2>&1; then
    result="no crash"
  else
    result="FAILED (exit $status; see fuzz/$log and fuzz/artifacts/$target/)"
    failed=1
  fi
  printf '%-16s %12s %8s %8s %8s  %s\n' "$target" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "$result"
done
exit "$failed"
