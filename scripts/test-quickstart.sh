#!/usr/bin/env bash
# Runs the README's Quickstart (the client block and the curl block), exactly as
# written there, against a fresh
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

# The Quickstart's two ```sh blocks: the `kumocms` client one that follows "In
# another terminal", and the curl one that follows "The same steps with `curl`".
extract() {
  python3 - "$root/README.md" "$1" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
marker = sys.argv[2]
if marker not in text:
    sys.exit(f"README.md: no {marker!r}")
after = text.split(marker, 1)[1]
block = re.search(r"```sh\n(.*?)```", after, re.S)
if not block:
    sys.exit(f"README.md: no ```sh block after {marker!r}")
print(block.group(1))
PY
}
extract "In another terminal" >"$work/quickstart.sh"
extract 'The same steps with `curl`' >"$work/quickstart-curl.sh"
key="$(sed -n 's/^BASE=[^ ]* KEY=\(.*\)$/\1/p' "$work/quickstart.sh")"
[[ -n "$key" ]] || { echo "test-quickstart: the Quickstart no longer sets BASE=... KEY=..." >&2; exit 1; }

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
sed -i "s|^BASE=[^ ]*|BASE=$base|" "$work/quickstart.sh" "$work/quickstart-curl.sh"
# `kumocms` in the client block is the binary just built.
export PATH="$(dirname "$bin"):$PATH"

KUMOCMS_API_KEY="$key" KUMOCMS_LOG=warn "$bin" serve --addr "127.0.0.1:$port" \
  --data-dir "$work/data" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 150); do
  curl -fsS "$base/healthcheck" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.2
done

for run in $(seq 1 "$runs"); do
  for script in quickstart.sh quickstart-curl.sh; do
    out="$(cd "$work" && timeout 60 bash -e "$script" 2>&1)" || {
      echo "run $run: the Quickstart ($script) failed:" >&2; echo "$out" >&2; exit 1; }
    grep -q '^  "status": "active",$' <<<"$out" || { echo "run $run ($script): the document was not shown active:" >&2; echo "$out" >&2; exit 1; }
    grep -q '^  "extracted": {$' <<<"$out" || { echo "run $run ($script): no extracted fields shown:" >&2; echo "$out" >&2; exit 1; }
    grep -qx 'hello world' <<<"$out" || { echo "run $run ($script): did not download 'hello world':" >&2; echo "$out" >&2; exit 1; }
    if [[ "$script" == quickstart.sh ]]; then
      grep -q ' purged$' <<<"$out" || { echo "run $run: kumocms rm --permanent did not purge:" >&2; echo "$out" >&2; exit 1; }
    else
      grep -qx '204' <<<"$out" || { echo "run $run: the curl DELETE did not answer 204:" >&2; echo "$out" >&2; exit 1; }
    fi
  done
done
echo "Quickstart (client and curl): $runs runs in a row, active every time"
