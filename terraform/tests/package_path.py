#!/usr/bin/env python3
"""Check that the deployment package path is one fact: where
scripts/build-lambda.sh writes bootstrap.zip (asked with --print-path, so nothing
is built) is where the examples' defaults and the docs point.

  1. `build-lambda.sh --print-path` and `--arm64 --print-path` name two different
     zips in the repository; an unknown argument exits 2.
  2. Every example's `lambda_deployment_package_path` default, resolved from the
     example's directory, is the x86_64 zip, or the arm64 zip when the example
     sets lambda_architecture = "arm64".
  3. Every mention of a zip under target/lambda* in the docs, scripts and e2e
     suite is one of those two paths.

    package_path.py [REPO_ROOT]    exit 1 naming each mismatch

Python standard library only; runs in well under a second.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

MENTION = re.compile(r"target/lambda[\w.-]*/[\w./-]*\.zip")
DOCS = [
    "README.md",
    "CONTRIBUTING.md",
    "BENCHMARKS.md",
    "terraform/README.md",
    "terraform/variables.tf",
    "e2e/README.md",
]
DOC_GLOBS = ["terraform/examples/*/README.md", "terraform/examples/*/*.tf", "scripts/*.sh", "e2e/*.py"]


def build_script_path(root, *args):
    result = subprocess.run(
        [str(root / "scripts/build-lambda.sh"), *args, "--print-path"],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"scripts/build-lambda.sh {' '.join(args)} --print-path failed: {result.stderr.strip()}")
    return Path(result.stdout.strip())


def package_default(variables_tf):
    text = variables_tf.read_text()
    m = re.search(r'variable\s+"lambda_deployment_package_path"\s*\{(.*?)\n\}', text, re.S)
    if not m:
        return None
    d = re.search(r'^\s*default\s*=\s*"([^"]*)"', m.group(1), re.M)
    return d.group(1) if d else None


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2]).resolve()
    errors = []

    x86 = build_script_path(root)
    arm = build_script_path(root, "--arm64")
    for name, path in (("x86_64", x86), ("arm64", arm)):
        if root not in path.parents or path.name != "bootstrap.zip":
            errors.append(f"build-lambda.sh writes the {name} zip to {path}, not a bootstrap.zip in the repository")
    if x86 == arm:
        errors.append(f"build-lambda.sh writes both architectures to {x86}: one build would overwrite the other")
    bad = subprocess.run([str(root / "scripts/build-lambda.sh"), "--no-such-flag", "--print-path"],
                         capture_output=True, text=True)
    if bad.returncode != 2 or "--no-such-flag" not in bad.stderr:
        errors.append(f"build-lambda.sh --no-such-flag: expected exit 2 naming the argument, got {bad.returncode}: {bad.stderr.strip()}")

    examples = sorted(p for p in (root / "terraform/examples").iterdir() if p.is_dir())
    for ex in examples:
        default = package_default(ex / "variables.tf") if (ex / "variables.tf").exists() else None
        if default is None:
            errors.append(f"terraform/examples/{ex.name}: no lambda_deployment_package_path default")
            continue
        arm64 = bool(re.search(r'^\s*lambda_architecture\s*=\s*"arm64"', (ex / "main.tf").read_text(), re.M))
        want = arm if arm64 else x86
        got = Path(os.path.normpath(ex / default))
        if got != want:
            errors.append(
                f"terraform/examples/{ex.name}: lambda_deployment_package_path defaults to {default} "
                f"({got}), but scripts/build-lambda.sh{' --arm64' if arm64 else ''} writes {want}")

    allowed = {str(x86.relative_to(root)), str(arm.relative_to(root))}
    files = [root / f for f in DOCS if (root / f).exists()]
    for g in DOC_GLOBS:
        files += sorted(root.glob(g))
    for f in files:
        for n, line in enumerate(f.read_text().splitlines(), 1):
            for m in MENTION.finditer(line):
                mention = m.group(0)
                if not any(mention.endswith(a) for a in allowed):
                    errors.append(f"{f.relative_to(root)}:{n}: {mention} is not where scripts/build-lambda.sh "
                                  f"writes the zip ({' or '.join(sorted(allowed))})")

    if errors:
        print("package path drift:", file=sys.stderr)
        for e in errors:
            print(f"  - {e}", file=sys.stderr)
        return 1
    print(f"package path: {len(examples)} examples and {len(files)} files agree with scripts/build-lambda.sh "
          f"({x86.relative_to(root)}, --arm64 {arm.relative_to(root)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
