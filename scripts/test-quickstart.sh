#!/usr/bin/env bash
# Runs the README's Quickstart, exactly as written there, against a fresh
# `kumocms serve`, several times in a row (default 20), and fails unless every run
# shows the document `active` with its extracted fields, downloads the uploaded
# bytes and deletes it.
#   scripts/test-quickstart.sh [runs]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
runs="${1:-20}"

cargo build --locked -q -p kumocms-cli --bin kumocms
bin="${CARGO_TARGET_DIR:-$root/target}/debug/kumocms"

work="$(mktemp -d)"
server=""
cleanup() {
  if [[ -n "$server" ]]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# The client commands: the README's ```sh block that follows "In another terminal".
python3 - "$root/README.md" >"$work/quickstart.sh" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
after = text.split("In another terminal", 1)[1]
block = re.search(r"```sh\n(.*?)```", after, re.S)
if not block:
    sys.exit("README.md: no ```sh block after 'In another terminal'")
print(block.group(1))
PY
key="$(sed -n 's/^BASE=[^ ]* KEY=\(.*\)$/\1/p' "$work/quickstart.sh")"
[[ -n "$key" ]] || { echo "test-quickstart: the Quickstart no longer sets BASE=... KEY=..." >&2; exit 1; }

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
sed -i "s|^BASE=[^ ]*|BASE=$base|" "$work/quickstart.sh"

KUMOCMS_API_KEY="$key" KUMOCMS_LOG=warn "$bin" serve --addr "127.0.0.1:$port" \
  --data-dir "$work/data" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 150); do
  curl -fsS "$base/healthcheck" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.2
done

for run in $(seq 1 "$runs"); do
  out="$(cd "$work" && timeout 60 bash -e quickstart.sh 2>&1)" || {
    echo "run $run: the Quickstart failed:" >&2; echo "$out" >&2; exit 1; }
  grep -q '^  "status": "active",$' <<<"$out" || { echo "run $run: step 3 did not show the document active:" >&2; echo "$out" >&2; exit 1; }
  grep -q '^  "extracted": {$' <<<"$out" || { echo "run $run: step 3 did not show extracted fields:" >&2; echo "$out" >&2; exit 1; }
  grep -qx 'hello world' <<<"$out" || { echo "run $run: step 4 did not download 'hello world':" >&2; echo "$out" >&2; exit 1; }
  grep -qx '204' <<<"$out" || { echo "run $run: step 5 did not answer 204:" >&2; echo "$out" >&2; exit 1; }
done
echo "Quickstart: $runs runs in a row, active every time"
