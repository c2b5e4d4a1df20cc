#!/usr/bin/env bash
# Runs every test and lint of KumoCMS. Installs what it needs (Python tools into
# ./.venv) and starts and stops the services its tests use (moto server).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

step() { printf '\n==> %s\n' "$*"; }

step "Python tools (.venv)"
scripts/venv.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Rust tests (moto server on 127.0.0.1 for the AWS adapters)"
scripts/with-moto.sh cargo nextest run --workspace --locked --no-fail-fast

step "Schema-driven API tests (schemathesis against kumocms serve)"
scripts/schemathesis.sh

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
