#!/usr/bin/env bash
# End-to-end suite (e2e/): the Terraform examples basic, cognito-new-pool,
# private-power-user and multi-region applied to moto through test-only roots,
# the real `bootstrap` run with each function's handler and environment read
# back from moto, the route table compared with the Rust router, then destroy.
#   scripts/test-e2e.sh [pytest args, e.g. -k basic]
# Offline: the aws provider comes from /opt/tf-plugins when that mirror exists.
# Exits non-zero on any failure. Environment:
#   KUMOCMS_E2E_SKIP_BUILD=1   use the existing target/lambda/bootstrap/bootstrap.zip
#   KUMOCMS_E2E_KEEP=1         keep the work directory (terraform logs, function logs)
# The suite gets KUMOCMS_E2E_CLIENT (the debug kumocms binary this script builds),
# KUMOCMS_LAMBDA_ZIP, KUMOCMS_E2E_ROUTES and KUMOCMS_E2E_WORK from here.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
started=$(date +%s)

"$root/scripts/venv.sh"
py="$root/.venv/bin/python"
"$py" -c 'import pytest, boto3, requests' 2>/dev/null || {
  echo "test-e2e: pytest, boto3 and requests must be in .venv (scripts/requirements-dev.txt)" >&2
  exit 1
}
command -v terraform >/dev/null || { echo "test-e2e: terraform is not installed (need >= 1.9)" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/kumocms-e2e.XXXXXX")"
cleanup() {
  if [[ "${KUMOCMS_E2E_KEEP:-0}" == 1 ]]; then echo "test-e2e: work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# --- Terraform CLI configuration: offline provider, plugin cache in the work dir ---
mkdir -p "$work/plugin-cache"
if [[ -d /opt/tf-plugins ]]; then
  cat >"$work/terraform.rc" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "/opt/tf-plugins"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }
}
plugin_cache_dir = "$work/plugin-cache"
EOF
else
  printf 'plugin_cache_dir = "%s"\n' "$work/plugin-cache" >"$work/terraform.rc"
fi
export TF_CLI_CONFIG_FILE="$work/terraform.rc"
unset TF_PLUGIN_CACHE_DIR TF_DATA_DIR
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1

# --- the deployment package, the kumocms binary and the Rust router's routes --------
if [[ "${KUMOCMS_E2E_SKIP_BUILD:-0}" != 1 ]]; then
  echo "--> test-e2e: scripts/build-lambda.sh"
  "$root/scripts/build-lambda.sh"
fi
export KUMOCMS_LAMBDA_ZIP="$root/target/lambda/bootstrap/bootstrap.zip"
# The debug `kumocms` binary: it lists the routes, and the basic example drives its
# client (put, get, search, rm) over HTTP. scripts/test.sh has built it for the Rust
# tests already, so this costs nothing there.
echo "--> test-e2e: cargo build -p kumocms-cli --bin kumocms"
cargo build -q --locked -p kumocms-cli --bin kumocms
target_dir="$(cargo metadata -q --format-version 1 --no-deps | "$py" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
export KUMOCMS_E2E_CLIENT="$target_dir/debug/kumocms"
echo "--> test-e2e: kumocms routes --json"
"$KUMOCMS_E2E_CLIENT" routes --json >"$work/routes.json"
export KUMOCMS_E2E_ROUTES="$work/routes.json" KUMOCMS_E2E_WORK="$work"

# --- the suite, with moto on 127.0.0.1 -----------------------------------------------
echo "--> test-e2e: pytest e2e/ against moto"
rc=0
"$root/scripts/with-moto.sh" "$py" -m pytest -p no:cacheprovider -v --tb=short --durations=0 "$root/e2e" "$@" || rc=$?
elapsed=$(($(date +%s) - started))
if [[ $rc -ne 0 ]]; then
  echo "test-e2e.sh FAILED (${elapsed}s); rerun with KUMOCMS_E2E_KEEP=1 for the terraform and function logs" >&2
  exit "$rc"
fi
echo "test-e2e.sh: all end-to-end checks passed (${elapsed}s)"
