#!/usr/bin/env bash
# Builds the `bootstrap` Lambda binary (runtime provided.al2023, x86_64) and zips it:
#   target/lambda/bootstrap/bootstrap.zip
# cargo-lambda links with zig against glibc 2.34, the version Amazon Linux 2023 ships,
# so the binary never needs newer symbols than the runtime has. Both tools come from
# the project virtualenv (.venv, scripts/requirements-dev.txt).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/venv.sh
# cargo-lambda finds zig on PATH (the ziglang wheel's python-zig launcher).
export PATH="$root/.venv/bin:$PATH"
# A target directory of its own: the release cross-build shares nothing with the
# debug builds of the tests, and then neither waits for the other's lock.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target/lambda-build}"
"$root/.venv/bin/cargo-lambda" lambda build \
  --release \
  --lambda-dir "$root/target/lambda" \
  --locked \
  --package kumocms-lambda \
  --bin bootstrap \
  --target x86_64-unknown-linux-gnu.2.34 \
  --output-format zip
zip="$root/target/lambda/bootstrap/bootstrap.zip"
test -s "$zip" || { echo "build-lambda: $zip was not produced" >&2; exit 1; }
echo "$zip ($(du -h "$zip" | cut -f1))"
