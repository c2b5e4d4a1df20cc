#!/usr/bin/env bash
# Runs every test and lint of KumoCMS. Installs what it needs (Python tools into
# ./.venv) and starts and stops the services its tests use (moto server).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

step() { printf '\n==> %s\n' "$*"; }

step "Python tools (.venv)"
scripts/venv.sh

step "Cargo tools (cargo-nextest, cargo-machete), installed when missing"
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest
command -v cargo-machete >/dev/null || cargo install --locked cargo-machete

step "tmux (the client's progress-bar test records a terminal), installed when missing"
command -v tmux >/dev/null || { sudo -n true 2>/dev/null && SUDO=sudo || SUDO=; \
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq tmux; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Unused dependencies (cargo machete)"
cargo machete crates fuzz

step "Fuzz targets compile (cargo check; scripts/fuzz.sh runs them)"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}" \
  cargo check --manifest-path fuzz/Cargo.toml --locked --features aws --bins

step "Rust tests (moto server on 127.0.0.1 for the AWS adapters)"
scripts/with-moto.sh cargo nextest run --workspace --locked --no-fail-fast

step "Schema-driven API tests (schemathesis against kumocms serve)"
scripts/schemathesis.sh

step "The web interface in Debian's Chromium (Playwright), screenshots in target/browser-screenshots"
scripts/test-browser.sh

step "The README's Quickstart, 20 times in a row from a fresh data directory"
scripts/test-quickstart.sh 20

step "Lambda package: bootstrap.zip, needing glibc <= 2.34"
scripts/build-lambda.sh
scripts/check-glibc.sh

step "Terraform module: fmt, validate, terraform test, checkov, README drift"
scripts/test-terraform.sh

step "End to end: the module applied to moto, the functions run on what it made"
# bootstrap.zip was built and checked above.
KUMOCMS_E2E_SKIP_BUILD=1 scripts/test-e2e.sh

echo
echo "All checks passed."
