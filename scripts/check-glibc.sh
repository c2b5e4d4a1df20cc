#!/usr/bin/env bash
# Checks that the zipped `bootstrap` needs no glibc newer than Amazon Linux 2023's
# 2.34 (the provided.al2023 runtime): the highest GLIBC_x.y among the versions its
# dynamic symbols require must be <= 2.34.
#   scripts/check-glibc.sh [path/to/bootstrap.zip]   (default: target/lambda/bootstrap/bootstrap.zip)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
zip="${1:-$root/target/lambda/bootstrap/bootstrap.zip}"
max_allowed="2.34"
[[ -s "$zip" ]] || { echo "check-glibc: $zip not found; run scripts/build-lambda.sh first" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 - "$zip" "$work" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    names = z.namelist()
    if "bootstrap" not in names:
        sys.exit(f"check-glibc: no 'bootstrap' at the root of the zip (found {names})")
    z.extract("bootstrap", sys.argv[2])
PY
binary="$work/bootstrap"
file_type="$(od -An -c -N4 "$binary" | tr -d ' ')"
[[ "$file_type" == "177ELF" ]] || { echo "check-glibc: bootstrap is not an ELF binary" >&2; exit 1; }
# Version needs (.gnu.version_r) name every GLIBC_ version the loader must provide.
if command -v readelf >/dev/null; then
  versions="$(readelf -W --version-info "$binary" | grep -o 'GLIBC_[0-9][0-9.]*' | sort -u || true)"
else
  versions="$(objdump -T "$binary" | grep -o 'GLIBC_[0-9][0-9.]*' | sort -u || true)"
fi
[[ -n "$versions" ]] || { echo "check-glibc: no GLIBC_ versions found; is bootstrap dynamically linked against glibc?" >&2; exit 1; }
highest="$(printf '%s\n' $versions | sed 's/^GLIBC_//' | sort -V | tail -n1)"
echo "bootstrap: highest required glibc symbol version GLIBC_$highest (allowed: at most GLIBC_$max_allowed)"
if [[ "$(printf '%s\n%s\n' "$highest" "$max_allowed" | sort -V | tail -n1)" != "$max_allowed" ]]; then
  echo "check-glibc: GLIBC_$highest is newer than $max_allowed; symbols needing it:" >&2
  objdump -T "$binary" | grep "GLIBC_$highest" >&2 || true
  exit 1
fi
