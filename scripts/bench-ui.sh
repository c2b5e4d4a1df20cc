#!/usr/bin/env bash
# Lighthouse (npm lighthouse@12.2.3 from scripts/lighthouse/package-lock.json, the
# newest that runs on Node 20) on the web interface's document list and document
# page, signed in, against a fresh `kumocms serve` with a few documents, in Debian's
# Chromium (CHROME_PATH). Prints the scores and bytes transferred as JSON.
#   scripts/bench-ui.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
(cd scripts/lighthouse && npm ci --no-audit --no-fund --silent)
cargo build --release --locked -q -p kumocms-cli --bin kumocms
bin="${CARGO_TARGET_DIR:-$root/target}/release/kumocms"
data_dir="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
key="bench-ui-$(date +%s%N)"
KUMOCMS_API_KEY="$key" KUMOCMS_LOG=warn "$bin" serve --addr "127.0.0.1:$port" --data-dir "$data_dir" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$data_dir"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do curl -fsS "$base/healthcheck" >/dev/null 2>&1 && break; sleep 0.1; done
export KUMOCMS_URL="$base" KUMOCMS_API_KEY="$key"
id="$("$bin" put README.md --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["document_id"])')"
"$bin" put ARCHITECTURE.md CONTRIBUTING.md BENCHMARKS.md >/dev/null
"$bin" wait "$id" >/dev/null
CHROME_PATH="${CHROME_PATH:-/usr/bin/chromium}" node scripts/lighthouse/audit.mjs "$base" "$key" "$id"
