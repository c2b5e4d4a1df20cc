#!/usr/bin/env bash
# Tests the Terraform module in terraform/, offline:
#   1. terraform fmt -check -recursive terraform/
#   2. terraform init -backend=false + validate: the module and every example
#   3. terraform test (mock_provider "aws"): terraform/tests/*.tftest.hcl
#   4. checkov: the module (defaults, every feature on, Cognito) and every example
#   5. README drift: terraform/README.md Inputs/Outputs vs variables.tf/outputs.tf
#   6. package path: scripts/build-lambda.sh's output vs the examples' defaults and
#      the docs (terraform/tests/package_path.py; builds nothing)
# The aws provider comes from /opt/tf-plugins when that mirror exists; otherwise
# terraform's normal registry installation is used. Works from any cwd.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
tf_dir="$root/terraform"
started=$(date +%s)

# checkov version: the project's pin in scripts/requirements-dev.txt, if any.
checkov_version="3.3.30"
if [[ -f scripts/requirements-dev.txt ]]; then
  pinned="$(sed -n 's/^checkov==\([0-9.]*\).*/\1/p' scripts/requirements-dev.txt | head -n1)"
  checkov_version="${pinned:-$checkov_version}"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/kumocms-tf.XXXXXX")"
created_locks=()
cleanup() {
  local f
  for f in "${created_locks[@]}"; do rm -f "$f"; done
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n--> terraform: %s\n' "$*"; }
failures=()
fail() {
  failures+=("$1")
  printf 'FAILED: %s\n' "$1" >&2
}

# Runs "name<TAB>command" tasks, $jobs at a time; each task's output goes to
# $work/jobs/<n>.log and its exit code to $work/jobs/<n>.rc.
jobs="$(nproc 2>/dev/null || echo 2)"
run_tasks() {
  local n=0 line
  rm -rf "$work/jobs" && mkdir -p "$work/jobs"
  task_names=()
  for line in "$@"; do
    while [[ "$(jobs -rp | wc -l)" -ge "$jobs" ]]; do wait -n || true; done
    task_names+=("${line%%$'\t'*}")
    (
      rc=0
      bash -c "${line#*$'\t'}" >"$work/jobs/$n.log" 2>&1 || rc=$?
      echo "$rc" >"$work/jobs/$n.rc"
    ) &
    n=$((n + 1))
  done
  wait
}

# --- provider installation ---------------------------------------------------
cache_dir="${TF_PLUGIN_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kumocms/terraform-plugin-cache}"
mkdir -p "$cache_dir"
unset TF_PLUGIN_CACHE_DIR
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
plugin_cache_dir = "$cache_dir"
EOF
  provider_source="filesystem mirror /opt/tf-plugins"
else
  printf 'plugin_cache_dir = "%s"\n' "$cache_dir" >"$work/terraform.rc"
  provider_source="registry"
fi
# Always our own file: the environment may point TF_CLI_CONFIG_FILE at a file
# that does not exist.
export TF_CLI_CONFIG_FILE="$work/terraform.rc"
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1

command -v terraform >/dev/null || {
  echo "terraform is not installed (need >= 1.9)" >&2
  exit 1
}
echo "terraform: $(terraform version | head -n1), aws provider from the $provider_source"

# Every configuration gets its own TF_DATA_DIR outside the tree, so no
# .terraform/ is left behind; lock files created here are removed at exit.
configs=("$tf_dir")
for d in "$tf_dir"/examples/*/; do configs+=("${d%/}"); done

data_dir() { printf '%s/data/%s' "$work" "$(printf '%s' "${1#"$root"/}" | tr '/' '_')"; }

# --- 1. fmt ------------------------------------------------------------------
step "fmt -check -recursive terraform/"
if terraform fmt -check -recursive -diff "$tf_dir"; then
  fmt_result="ok"
else
  fmt_result="FAILED"
  fail "terraform fmt (run: terraform fmt -recursive terraform/)"
fi

# --- 2. init + validate --------------------------------------------------------
step "init -backend=false + validate (module and ${#configs[@]} configurations in total)"
validated=0
tasks=()
for dir in "${configs[@]}"; do
  [[ -f "$dir/.terraform.lock.hcl" ]] || created_locks+=("$dir/.terraform.lock.hcl")
  tasks+=("${dir#"$root"/}"$'\t'"cd '$dir' && export TF_DATA_DIR='$(data_dir "$dir")' && terraform init -backend=false -input=false -no-color && terraform validate -no-color")
done
run_tasks "${tasks[@]}"
for i in "${!task_names[@]}"; do
  if [[ "$(cat "$work/jobs/$i.rc")" == 0 ]]; then
    validated=$((validated + 1))
    printf '  valid: %s\n' "${task_names[$i]}"
  else
    cat "$work/jobs/$i.log" >&2
    fail "terraform init/validate ${task_names[$i]}"
  fi
done

# --- 3. terraform test -----------------------------------------------------------
step "test (mock_provider \"aws\", terraform/tests/*.tftest.hcl)"
# The test files run in parallel, each in its own copy of the module's data dir.
tests_passed=0
tests_failed=0
tasks=()
# Largest files first, so that the parallel runs end at about the same time.
mapfile -t test_files < <(ls -S "$tf_dir"/tests/*.tftest.hcl)
for f in "${test_files[@]}"; do
  rel="tests/$(basename "$f")"
  dd="$(data_dir "$tf_dir")-$(basename "$f" .tftest.hcl)"
  cp -a "$(data_dir "$tf_dir")" "$dd"
  tasks+=("$rel"$'\t'"cd '$tf_dir' && TF_DATA_DIR='$dd' terraform test -no-color -filter='$rel'")
done
run_tasks "${tasks[@]}"
for i in "${!task_names[@]}"; do
  log="$work/jobs/$i.log"
  grep -E '^(tests/|  run )' "$log" || true
  p=$(grep -c '^  run .*\.\.\. pass$' "$log" || true)
  f=$(grep -Ec '^  run .*\.\.\. (fail|error|skip)$' "$log" || true)
  tests_passed=$((tests_passed + p))
  tests_failed=$((tests_failed + f))
  if [[ "$(cat "$work/jobs/$i.rc")" != 0 || $f -ne 0 || $p -eq 0 ]]; then
    cat "$log" >&2
    fail "terraform test ${task_names[$i]} ($p passed, $f failed or skipped)"
  fi
done

# --- 4. checkov ------------------------------------------------------------------
step "checkov $checkov_version (module with defaults, every feature on, Cognito; every example)"
venv="$root/.venv"
checkov="$venv/bin/checkov"
if [[ ! -x "$checkov" ]] || [[ "$("$checkov" --version 2>/dev/null)" != "$checkov_version" ]]; then
  [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "checkov==$checkov_version"
fi
ck_passed=0
ck_failed=0
ck_skipped=0
ck="'$checkov' --framework terraform --quiet --compact --skip-download"
tasks=(
  "module (defaults)"$'\t'"cd '$tf_dir' && $ck -d . --skip-path examples --skip-path tests"
  "module (tests/fixtures/all-features.tfvars)"$'\t'"cd '$tf_dir' && $ck -d . --skip-path examples --skip-path tests --var-file tests/fixtures/all-features.tfvars"
  "module (tests/fixtures/cognito.tfvars)"$'\t'"cd '$tf_dir' && $ck -d . --skip-path examples --skip-path tests --var-file tests/fixtures/cognito.tfvars"
)
for d in "$tf_dir"/examples/*/; do
  rel="examples/$(basename "$d")"
  tasks+=("$rel"$'\t'"cd '$tf_dir' && $ck -d '$rel'")
done
run_tasks "${tasks[@]}"
for i in "${!task_names[@]}"; do
  log="$work/jobs/$i.log"
  read -r p f s < <(sed -n 's/.*Passed checks: \([0-9]*\), Failed checks: \([0-9]*\), Skipped checks: \([0-9]*\).*/\1 \2 \3/p' "$log" |
    awk '{p+=$1; f+=$2; s+=$3} END {print p+0, f+0, s+0}')
  ck_passed=$((ck_passed + p))
  ck_failed=$((ck_failed + f))
  ck_skipped=$((ck_skipped + s))
  printf '  %-44s passed %4d  failed %3d  skipped %3d\n' "${task_names[$i]}" "$p" "$f" "$s"
  if [[ "$(cat "$work/jobs/$i.rc")" != 0 || $f -ne 0 || $p -eq 0 ]]; then
    grep -v -E '^[0-9]{4}-[0-9]{2}-[0-9]{2} .*\[(WARNI|INFO)' "$log" | tail -n 60 >&2
    fail "checkov ${task_names[$i]} ($f failed)"
  fi
done

# --- 5. README drift -----------------------------------------------------------------
step "README Inputs/Outputs vs variables.tf/outputs.tf"
if python3 "$tf_dir/tests/readme_drift.py" "$tf_dir"; then
  drift_result="ok"
else
  drift_result="FAILED"
  fail "README drift (print the tables with: python3 terraform/tests/readme_drift.py --print)"
fi

# --- 6. package path -------------------------------------------------------------------
step "package path: scripts/build-lambda.sh output vs examples and docs"
if python3 "$tf_dir/tests/package_path.py" "$root"; then
  package_result="ok"
else
  package_result="FAILED"
  fail "package path (scripts/build-lambda.sh --print-path vs the examples' lambda_deployment_package_path and the docs)"
fi

# --- summary ---------------------------------------------------------------------------
elapsed=$(($(date +%s) - started))
echo
echo "terraform summary: fmt $fmt_result; validate ${validated}/${#configs[@]}; terraform test ${tests_passed} passed, ${tests_failed} failed; checkov ${ck_passed} passed, ${ck_failed} failed, ${ck_skipped} skipped; README drift $drift_result; package path $package_result; ${elapsed}s"
if [[ ${#failures[@]} -ne 0 ]]; then
  printf 'test-terraform.sh FAILED:\n' >&2
  printf '  - %s\n' "${failures[@]}" >&2
  exit 1
fi
echo "test-terraform.sh: all Terraform checks passed"
