#!/usr/bin/env bash
# The `kumocms` client's benchmark (issue 14): `kumocms put` of a directory of 1,000
# files of 10 KiB to a local `kumocms serve` (release builds of both, one machine),
# as files per second. The median of several runs, each on a fresh data directory.
#   scripts/bench-client.sh            # 5 runs
#   KUMOCMS_BENCH_CLIENT_RUNS=3 scripts/bench-client.sh
#   KUMOCMS_BENCH_CLIENT_JOBS=64 scripts/bench-client.sh   # files at once (put --jobs)
#   KUMOCMS_BENCH_CLIENT_BIN=/tmp/kumocms-old scripts/bench-client.sh   # that binary, no build
#     (to compare two builds interleaved, one run per quiet window)
# Needs: cargo, curl, python3.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
runs="${KUMOCMS_BENCH_CLIENT_RUNS:-5}"
files=1000
file_kib=10

if [[ -n "${KUMOCMS_BENCH_CLIENT_BIN:-}" ]]; then
  bin="$KUMOCMS_BENCH_CLIENT_BIN"
else
  cargo build --release --locked -q -p kumocms-cli --bin kumocms
  bin="${CARGO_TARGET_DIR:-$root/target}/release/kumocms"
fi

work="$(mktemp -d)"
server=""
cleanup() {
  if [[ -n "$server" ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

python3 - "$work/files" "$files" "$file_kib" <<'PY'
import os, sys
root, count, kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(count):
    d = os.path.join(root, f"{i % 20:02d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:04d}.bin"), "wb") as f:
        f.write(os.urandom(kib * 1024))
PY

export KUMOCMS_API_KEY=bench-key XDG_CONFIG_HOME="$work/config" XDG_CACHE_HOME="$work/cache"
results=()
for run in $(seq 1 "$runs"); do
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  export KUMOCMS_URL="http://127.0.0.1:$port"
  KUMOCMS_LOG=warn "$bin" serve --addr "127.0.0.1:$port" --data-dir "$work/data-$run" >"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 150); do
    curl -fsS "$KUMOCMS_URL/healthcheck" >/dev/null 2>&1 && break
    sleep 0.1
  done
  start=$(date +%s.%N)
  "$bin" put "$work/files" --json ${KUMOCMS_BENCH_CLIENT_JOBS:+--jobs "$KUMOCMS_BENCH_CLIENT_JOBS"} >"$work/put.json"
  end=$(date +%s.%N)
  count="$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$work/put.json")"
  [[ "$count" == "$files" ]] || { echo "run $run: $count documents, expected $files" >&2; exit 1; }
  rate="$(python3 -c "print(f'{$files / ($end - $start):.0f}')")"
  echo "run $run: $files files in $(python3 -c "print(f'{$end - $start:.2f}')") s = $rate files/s"
  results+=("$rate")
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
  # Data directories are kept until the end: ext4 allocates inodes slowly right after
  # thousands were freed, which would slow every run after the first (BENCHMARKS.md).
done
median="$(printf '%s\n' "${results[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
echo "kumocms put, $files files of $file_kib KiB: median $median files/s over $runs runs (goal >= 500)"
