#!/usr/bin/env bash
# Large transfers against `kumocms serve` (issues 12 and 14), release builds, one machine:
#   1. `dd` writing the file's bytes to the same disk (conv=fsync): the floor;
#   2. `kumocms put FILE` (multipart, 4 parts at once, SHA-256 computed while the
#      parts are read and declared at completion, until the document is active);
#   3. one `curl` PUT of the same file through a single-upload link (its SHA-256
#      computed first by `sha256sum`, timed apart), until the document is active;
#   4. a 1 GiB download cut half-way and resumed with `curl -C -`, checked by SHA-256;
#   5. the server's peak RSS over all of it (VmHWM).
#
#   scripts/bench-large.sh                          # a 4 GiB file of random bytes
#   KUMOCMS_BENCH_LARGE_GIB=10 KUMOCMS_BENCH_LARGE_SOURCE=sparse \
#     KUMOCMS_BENCH_LARGE_STEPS=put scripts/bench-large.sh   # peak RSS during 10 GiB
#
# KUMOCMS_BENCH_LARGE_SOURCE: `random` (default; the file is written to
# KUMOCMS_BENCH_LARGE_SOURCE_DIR, /dev/shm by default, so reading it costs no disk) or
# `sparse` (a file of zeros that takes no space: for memory runs, not for speed).
# KUMOCMS_BENCH_LARGE_STEPS: any of `dd put curl resume` (default: all four).
# KUMOCMS_BENCH_LARGE_RUNS: how many times dd and put run, interleaved (default 1).
# KUMOCMS_BENCH_LARGE_BIN: a `kumocms` binary to run instead of building one (to
# compare builds, each in its own run).
# Disk: the data directory needs the file's size once (each document is deleted
# before the next step) plus 1 GiB for the resumed download.
# Needs: cargo, curl, jq, python3, sha256sum, dd.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
gib="${KUMOCMS_BENCH_LARGE_GIB:-4}"
source_kind="${KUMOCMS_BENCH_LARGE_SOURCE:-random}"
source_dir="${KUMOCMS_BENCH_LARGE_SOURCE_DIR:-/dev/shm}"
steps="${KUMOCMS_BENCH_LARGE_STEPS:-dd put curl resume}"
target="${CARGO_TARGET_DIR:-$root/target}"

if [[ -n "${KUMOCMS_BENCH_LARGE_BIN:-}" ]]; then
  bin="$KUMOCMS_BENCH_LARGE_BIN"
else
  cargo build --release --locked -q -p kumocms-cli --bin kumocms
  bin="$target/release/kumocms"
fi

work="$(mktemp -d -p "$target" bench-large.XXXXXX)"
src="$source_dir/kumocms-bench-large-$$.bin"
server=""
cleanup() {
  if [[ -n "$server" ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work" "$src" "$src.1g"
}
trap cleanup EXIT INT TERM

bytes=$((gib * 1024 * 1024 * 1024))
echo "source: $gib GiB ($source_kind) in $source_dir; data directory in $work"
if [[ "$source_kind" == sparse ]]; then
  truncate -s "$bytes" "$src"
else
  # urandom through openssl-free python: ~1 GB/s, once, not timed.
  python3 - "$src" "$bytes" <<'PY'
import os, sys
path, size = sys.argv[1], int(sys.argv[2])
chunk = os.urandom(64 << 20)
with open(path, "wb") as f:
    left = size
    i = 0
    while left:
        n = min(left, len(chunk))
        # A different 64 MiB block each time, so no two parts carry the same bytes.
        f.write(chunk[:n] if i == 0 else (i.to_bytes(8, "little") + chunk[8:])[:n])
        left -= n
        i += 1
PY
fi

seconds() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }
rate() { python3 -c "import sys; print(f'{int(sys.argv[1]) / float(sys.argv[2]) / 1048576:.0f}')" "$1" "$2"; }

declare -A took
# dd and put interleaved KUMOCMS_BENCH_LARGE_RUNS times (default 1): on a shared,
# loaded machine one pair says little; each pair is printed with the load average.
runs="${KUMOCMS_BENCH_LARGE_RUNS:-1}"
run_dd() {
  start=$(date +%s.%N)
  dd if="$src" of="$work/dd.out" bs=8M conv=fsync status=none
  end=$(date +%s.%N)
  took[dd]=$(seconds "$start" "$end")
  rm -f "$work/dd.out"
  echo "dd (conv=fsync): ${took[dd]} s = $(rate "$bytes" "${took[dd]}") MiB/s; $(uptime | sed 's/.*load/load/')"
}
export KUMOCMS_API_KEY=bench-key XDG_CONFIG_HOME="$work/config" XDG_CACHE_HOME="$work/cache"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
export KUMOCMS_URL="$base"
KUMOCMS_LOG=warn "$bin" serve --addr "127.0.0.1:$port" --data-dir "$work/data" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 150); do
  curl -fsS "$base/healthcheck" >/dev/null 2>&1 && break
  sleep 0.1
done
auth=(-H "Authorization: Bearer $KUMOCMS_API_KEY")
wait_active() {
  until [[ "$(curl -s "$base/documents/$1" "${auth[@]}" | jq -r .status)" == active ]]; do sleep 0.05; done
}
# Frees the disk between steps (the trash would keep the content).
purge() { curl -fsS -o /dev/null -X DELETE "$base/documents/$1?permanent=true" "${auth[@]}"; }

run_put() {
  start=$(date +%s.%N)
  "$bin" put "$src" --parallel 4 --json >"$work/put.json"
  end=$(date +%s.%N)
  took[put]=$(seconds "$start" "$end")
  id="$(jq -r '.[0].document_id' "$work/put.json")"
  [[ "$(jq -r '.[0].size' "$work/put.json")" == "$bytes" ]] || { echo "put: wrong size" >&2; exit 1; }
  echo "kumocms put --parallel 4 (multipart, hashed while sent, complete, active): ${took[put]} s = $(rate "$bytes" "${took[put]}") MiB/s; $(uptime | sed 's/.*load/load/')"
  purge "$id"
}
for run in $(seq 1 "$runs"); do
  if [[ " $steps " == *" dd "* ]]; then run_dd; fi
  if [[ " $steps " == *" put "* ]]; then run_put; fi
  if [[ -n "${took[put]:-}" && -n "${took[dd]:-}" ]]; then
    echo "run $run: put vs dd: $(python3 -c "print(f'{${took[dd]} / ${took[put]}:.2f}')")x (goal >= 0.8)"
  fi
done

if [[ " $steps " == *" curl "* ]]; then
  if ((bytes > 5 * 1024 * 1024 * 1024)); then
    echo "curl: skipped, a single upload takes at most 5 GiB"
  else
    start=$(date +%s.%N)
    sum="$(sha256sum "$src" | cut -d' ' -f1)"
    hashed=$(date +%s.%N)
    curl -fsS -X POST "$base/documents" "${auth[@]}" -H 'Content-Type: application/json' \
      -d "{\"file_name\": \"large.bin\", \"file_size\": $bytes, \"upload_mode\": \"single\", \"checksum_sha256\": \"$sum\"}" >"$work/created.json"
    id="$(jq -r .document_id "$work/created.json")"
    headers=()
    while IFS= read -r header; do headers+=(-H "$header"); done < <(jq -r '.upload.headers // {} | to_entries[] | "\(.key): \(.value)"' "$work/created.json")
    curl -fsS -o /dev/null -X PUT -T "$src" "${headers[@]}" "$(jq -r .upload.url "$work/created.json")"
    wait_active "$id"
    end=$(date +%s.%N)
    took[sha256sum]=$(seconds "$start" "$hashed")
    took[curl]=$(seconds "$hashed" "$end")
    took[curl_total]=$(seconds "$start" "$end")
    echo "sha256sum: ${took[sha256sum]} s; one curl PUT until active: ${took[curl]} s = $(rate "$bytes" "${took[curl]}") MiB/s; both: ${took[curl_total]} s"
    purge "$id"
  fi
fi

if [[ " $steps " == *" resume "* ]]; then
  one=$((1024 * 1024 * 1024))
  head -c "$one" "$src" >"$src.1g"
  "$bin" put "$src.1g" --json >"$work/put1g.json"
  id="$(jq -r '.[0].document_id' "$work/put1g.json")"
  url="$(curl -fsS "$base/documents/$id" "${auth[@]}" | jq -r .download.url)"
  curl -fsS -r "0-$((one / 2 - 1))" -o "$work/download.bin" "$url"
  cut_at=$(stat -c %s "$work/download.bin")
  start=$(date +%s.%N)
  curl -fsS -C - -o "$work/download.bin" "$url"
  end=$(date +%s.%N)
  want="$(sha256sum "$src.1g" | cut -d' ' -f1)"
  got="$(sha256sum "$work/download.bin" | cut -d' ' -f1)"
  [[ "$want" == "$got" ]] || { echo "resume: SHA-256 differs ($got, want $want)" >&2; exit 1; }
  echo "curl -C - of 1 GiB cut at $cut_at bytes: the rest in $(seconds "$start" "$end") s, SHA-256 matches ($got)"
  purge "$id"
  rm -f "$work/download.bin" "$src.1g"
fi

echo "server peak RSS (VmHWM): $(awk '/VmHWM/ {print $2, $3}' "/proc/$server/status")"
if [[ -n "${took[put]:-}" && -n "${took[dd]:-}" ]]; then
  echo "put vs dd: $(python3 -c "print(f'{${took[dd]} / ${took[put]}:.2f}')")x (goal >= 0.8)"
fi
if [[ -n "${took[put]:-}" && -n "${took[curl_total]:-}" ]]; then
  echo "put vs sha256sum + curl: $(python3 -c "print(f'{${took[curl_total]} / ${took[put]}:.2f}')")x; vs curl alone: $(python3 -c "print(f'{${took[curl]} / ${took[put]}:.2f}')")x (goal >= 1.2)"
fi
