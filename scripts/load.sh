#!/usr/bin/env bash
# A bounded load run against the local server on loopback: `kumocms serve` (release
# build) on 127.0.0.1 with a temporary data directory, seeded with active documents,
# then `wrk` for the given time with a mix of reads and writes:
#
#   45% GET /documents/{id}      20% GET /documents?limit=20
#   15% POST /documents          20% PATCH /documents/{id} (metadata merge)
#
# It reports the requests made, the non-2xx/3xx responses and socket errors (both must
# be zero), the p50/p99 latency, and the server's RSS (VmRSS) after seeding and at the
# end; it fails when anything went wrong or RSS grew by more than the bound.
#
#   scripts/load.sh [seconds]              (default 60)
#
#   LOAD_THREADS=2 LOAD_CONNECTIONS=16     wrk's threads and open connections
#   LOAD_SEED=200                          documents created and uploaded first
#   LOAD_MAX_RSS_GROWTH_MB=64              allowed RSS growth from start to end
#   KUMOCMS_BIN=target/release/kumocms     use this binary instead of building one
#
# Installs wrk with apt-get when it is missing (as root). Not part of scripts/test.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

seconds="${1:-60}"
threads="${LOAD_THREADS:-2}"
connections="${LOAD_CONNECTIONS:-16}"
seed="${LOAD_SEED:-200}"
max_growth_mb="${LOAD_MAX_RSS_GROWTH_MB:-64}"

if ! command -v wrk >/dev/null 2>&1; then
  if [[ "$(id -u)" == 0 ]]; then
    echo "==> installing wrk"
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else
    echo "load.sh needs wrk: sudo apt-get install wrk" >&2
    exit 2
  fi
fi
for tool in curl jq; do
  command -v "$tool" >/dev/null 2>&1 || { echo "load.sh needs $tool" >&2; exit 2; }
done

if [[ -n "${KUMOCMS_BIN:-}" ]]; then
  binary="$KUMOCMS_BIN"
else
  echo "==> building kumocms (release)"
  cargo build --release --locked -p kumocms-cli
  binary="$root/target/release/kumocms"
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

key="load-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# Port 0: the server picks a free port and prints its URL.
KUMOCMS_API_KEY="$key" KUMOCMS_LOG=warn \
  "$binary" serve --addr 127.0.0.1:0 --data-dir "$work/data" >"$work/stdout" 2>"$work/stderr" &
server_pid=$!
base=""
for _ in $(seq 1 200); do
  base="$(sed -n 's/^KumoCMS is serving \(http:[^ ]*\).*/\1/p' "$work/stdout" | head -1)"
  [[ -n "$base" ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/stderr" >&2; exit 1; }
  sleep 0.05
done
[[ -n "$base" ]] || { echo "the server did not start" >&2; exit 1; }
case "$base" in
  http://127.0.0.1:*) ;;
  *) echo "refusing to load anything but loopback: $base" >&2; exit 1 ;;
esac

rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$server_pid/status"; }

echo "==> seeding $seed documents at $base"
auth=(-H "Authorization: Bearer $key")
: >"$work/ids"
for n in $(seq 1 "$seed"); do
  body="seed document $n $(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  created="$(curl -sf "${auth[@]}" -H 'Content-Type: application/json' \
    -d "{\"file_name\": \"seed-$n.txt\", \"file_size\": ${#body}, \"content_type\": \"text/plain\", \"metadata\": {\"n\": $n}}" \
    "$base/documents")"
  printf '%s' "$body" | curl -sf -X PUT -H 'Content-Type: text/plain' --data-binary @- \
    "$(jq -r .upload.url <<<"$created")" >/dev/null
  jq -r .document_id <<<"$created" >>"$work/ids"
done
# Wait until the uploads are processed (every seeded document active).
for _ in $(seq 1 200); do
  active="$(curl -sf "${auth[@]}" "$base/documents?status=active&limit=1000" | jq .count)"
  [[ "$active" -ge "$seed" ]] && break
  sleep 0.1
done
[[ "$active" -ge "$seed" ]] || { echo "seeded documents did not become active" >&2; exit 1; }

cat >"$work/mix.lua" <<'LUA'
-- Mixed reads and writes over the seeded ids. Each thread has its own counters.
local ids = {}
for line in io.lines(os.getenv("LOAD_IDS")) do ids[#ids + 1] = line end
local key = os.getenv("LOAD_KEY")
local counter = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local address = tonumber(tostring({}):match("0x(%x+)") or "0", 16) or 0
  math.randomseed(os.time() + address % 1000003)
  bad = 0
end

function request()
  counter = counter + 1
  local id = ids[math.random(#ids)]
  local headers = { ["Authorization"] = "Bearer " .. key }
  local roll = math.random(100)
  if roll <= 45 then
    return wrk.format("GET", "/documents/" .. id, headers)
  elseif roll <= 65 then
    return wrk.format("GET", "/documents?limit=20", headers)
  end
  headers["Content-Type"] = "application/json"
  if roll <= 80 then
    local body = string.format(
      '{"file_name": "load-%d.bin", "file_size": %d, "metadata": {"load": true}}',
      counter, 1 + counter % 4096)
    return wrk.format("POST", "/documents", headers, body)
  end
  local body = string.format('{"metadata": {"counter": %d, "tag": "t%d"}}', counter, counter % 7)
  return wrk.format("PATCH", "/documents/" .. id, headers, body)
end

function response(status, headers, body)
  if status >= 400 then
    bad = bad + 1
    if bad <= 3 then io.stderr:write(string.format("HTTP %d: %s\n", status, body)) end
  end
end

function done(summary, latency, requests)
  local bad_total = 0
  for _, thread in ipairs(threads) do bad_total = bad_total + (thread:get("bad") or 0) end
  io.write(string.format("LOAD requests=%d duration_s=%.1f rps=%.1f\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6)))
  io.write(string.format("LOAD non_2xx_3xx=%d client_errors_seen=%d socket_errors=%d\n",
    summary.errors.status, bad_total,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  io.write(string.format("LOAD p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
LUA

rss_start="$(rss_kb)"
echo "==> wrk: ${seconds}s, $threads threads, $connections connections (RSS at start: ${rss_start} kB)"
LOAD_IDS="$work/ids" LOAD_KEY="$key" wrk --latency -t"$threads" -c"$connections" \
  -d"${seconds}s" --timeout 10s -s "$work/mix.lua" "$base" | tee "$work/wrk.out"
kill -0 "$server_pid" 2>/dev/null || { echo "the server died under load" >&2; cat "$work/stderr" >&2; exit 1; }
rss_end="$(rss_kb)"

requests="$(sed -n 's/^LOAD requests=\([0-9]*\).*/\1/p' "$work/wrk.out")"
non2xx="$(sed -n 's/^LOAD non_2xx_3xx=\([0-9]*\).*/\1/p' "$work/wrk.out")"
socket="$(sed -n 's/.*socket_errors=\([0-9]*\).*/\1/p' "$work/wrk.out")"
p99="$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' "$work/wrk.out")"
growth_kb=$((rss_end - rss_start))
server_errors="$(grep -c 'ERROR' "$work/stderr" || true)"

echo
echo "==> result"
printf '  requests:            %s in %ss\n' "$requests" "$seconds"
printf '  non-2xx/3xx:         %s\n' "$non2xx"
printf '  socket errors:       %s\n' "$socket"
printf '  p99 latency:         %s ms\n' "$p99"
printf '  RSS start / end:     %s kB / %s kB (growth %s kB, bound %s MB)\n' \
  "$rss_start" "$rss_end" "$growth_kb" "$max_growth_mb"
printf '  server ERROR lines:  %s\n' "$server_errors"

failed=0
[[ "$requests" -gt 0 ]] || { echo "FAIL: no requests completed"; failed=1; }
[[ "$non2xx" == 0 ]] || { echo "FAIL: $non2xx responses were not 2xx/3xx"; failed=1; }
[[ "$socket" == 0 ]] || { echo "FAIL: $socket socket errors"; failed=1; }
[[ "$server_errors" == 0 ]] || { echo "FAIL: the server logged errors"; sed -n '1,5p' "$work/stderr"; failed=1; }
if [[ "$growth_kb" -gt $((max_growth_mb * 1024)) ]]; then
  echo "FAIL: RSS grew by ${growth_kb} kB, more than ${max_growth_mb} MB"
  failed=1
fi
[[ "$failed" == 0 ]] && echo "PASS"
exit "$failed"
