#!/usr/bin/env bash
# Runs a command with moto server (the AWS API emulator) listening on 127.0.0.1, and
# stops it afterwards whatever the command's outcome.
#   scripts/with-moto.sh cargo nextest run -p kumocms-aws
# The command sees KUMOCMS_MOTO_ENDPOINT=http://127.0.0.1:<port>.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/venv.sh"
port="${KUMOCMS_MOTO_PORT:-0}"
if [[ "$port" == 0 ]]; then
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
fi
log="$(mktemp -t moto.XXXXXX.log)"
MOTO_IAM_LOAD_MANAGED_POLICIES=true "$root/.venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
cleanup() {
  kill "$moto_pid" 2>/dev/null || true
  wait "$moto_pid" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT INT TERM
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then
    echo "moto server failed to start:" >&2; cat "$log" >&2; exit 1
  fi
  sleep 0.2
done
export KUMOCMS_MOTO_ENDPOINT="http://127.0.0.1:$port"
"$@"
