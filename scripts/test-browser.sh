#!/usr/bin/env bash
# The web interface in a real browser: Playwright (from ./.venv) driving Debian's
# Chromium against a real `kumocms serve`. Installs Chromium with apt-get when it is
# missing (nothing downloads a browser build). Screenshots go to
# target/browser-screenshots/ (kept with the CI logs).
#   scripts/test-browser.sh [pytest args, e.g. -k keyboard]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/venv.sh
if [[ ! -x /usr/bin/chromium ]]; then
  echo "--> test-browser: installing Debian's chromium"
  SUDO=
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
for js in crates/kumocms-api/ui/*.js; do
  node --check "$js"
done
cargo build --locked -p kumocms-cli --bin kumocms
target="${CARGO_TARGET_DIR:-$root/target}"
export KUMOCMS_BIN="$target/debug/kumocms"
export KUMOCMS_SCREENSHOTS="$target/browser-screenshots"
rm -rf "$KUMOCMS_SCREENSHOTS"
cd browser-tests
"$root/.venv/bin/python" -m pytest -p no:cacheprovider -v --tb=short "$@"
echo "--> test-browser: screenshots in $KUMOCMS_SCREENSHOTS"
