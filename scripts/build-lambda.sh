#!/usr/bin/env bash
# Builds the `bootstrap` Lambda binary (runtime provided.al2023) and zips it:
#   scripts/build-lambda.sh            x86_64  -> target/lambda/bootstrap/bootstrap.zip
#   scripts/build-lambda.sh --arm64    arm64   -> target/lambda-arm64/bootstrap/bootstrap.zip
#   scripts/build-lambda.sh [--arm64] --print-path
#                                      prints that path and builds nothing (used by
#                                      terraform/tests/package_path.py)
# Deploy the arm64 zip with lambda_architecture = "arm64"; each architecture has its
# own output directory, so neither build overwrites the other's zip.
# cargo-lambda links with zig against glibc 2.34, the version Amazon Linux 2023 ships,
# so the binary never needs newer symbols than the runtime has. Both tools come from
# the project virtualenv (.venv, scripts/requirements-dev.txt); the arm64 build also
# needs the Rust standard library for it: `rustup target add aarch64-unknown-linux-gnu`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() {
  echo "usage: scripts/build-lambda.sh [--arm64 | --x86_64] [--print-path]"
}

arch="x86_64"
print_path=0
for arg in "$@"; do
  case "$arg" in
    --arm64) arch="arm64" ;;
    --x86_64) arch="x86_64" ;;
    --print-path) print_path=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      echo "build-lambda: unknown argument '$arg'" >&2
      usage >&2
      exit 2
      ;;
  esac
done

case "$arch" in
  x86_64)
    rust_target="x86_64-unknown-linux-gnu"
    lambda_dir="$root/target/lambda"
    ;;
  arm64)
    rust_target="aarch64-unknown-linux-gnu"
    lambda_dir="$root/target/lambda-arm64"
    ;;
esac
# cargo-lambda writes <lambda-dir>/<binary name>/bootstrap.zip.
zip="$lambda_dir/bootstrap/bootstrap.zip"
if [[ "$print_path" == 1 ]]; then
  echo "$zip"
  exit 0
fi

cd "$root"
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$rust_target"; then
  echo "build-lambda: the Rust target $rust_target is not installed; run: rustup target add $rust_target" >&2
  exit 1
fi
scripts/venv.sh
# cargo-lambda finds zig on PATH (the ziglang wheel's python-zig launcher).
export PATH="$root/.venv/bin:$PATH"
# A target directory of its own: the release cross-build shares nothing with the
# debug builds of the tests, and then neither waits for the other's lock. Both
# architectures share it (cargo keeps each target triple apart inside).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target/lambda-build}"
"$root/.venv/bin/cargo-lambda" lambda build \
  --release \
  --lambda-dir "$lambda_dir" \
  --locked \
  --package kumocms-lambda \
  --bin bootstrap \
  --target "$rust_target.2.34" \
  --output-format zip
test -s "$zip" || { echo "build-lambda: $zip was not produced" >&2; exit 1; }
echo "$zip ($(du -h "$zip" | cut -f1))"
