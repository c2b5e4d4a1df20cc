#!/usr/bin/env python3
"""Check that terraform/README.md's Inputs and Outputs tables match the code.

Inputs: every `variable` in variables.tf must have exactly one row, with the
same default (or `n/a` and Required `yes` when it has none); no extra rows.
Outputs: every `output` in outputs.tf must have exactly one row; no extra rows.

    readme_drift.py [MODULE_DIR]          check, exit 1 naming each drifted entry
    readme_drift.py [MODULE_DIR] --print  print tables generated from the code

Python standard library only.
"""
import re
import sys
from pathlib import Path


def _blocks(text, kind):
    """Yield (name, body) for each top-level `kind "name" { ... }` block."""
    for m in re.finditer(r'^%s\s+"([^"]+)"\s*\{' % kind, text, re.M):
        depth, i = 1, m.end()
        in_str = False
        while depth and i < len(text):
            c = text[i]
            if in_str:
                if c == "\\":
                    i += 1
                elif c == '"':
                    in_str = False
            elif c == '"':
                in_str = True
            elif c in "{[(":
                depth += 1 if c == "{" else 0
            elif c == "}":
                depth -= 1
            i += 1
        yield m.group(1), text[m.end():i - 1]


def _attribute(body, key):
    """Raw text of a top-level attribute of a block body (balanced brackets)."""
    depth = 0
    lines = body.split("\n")
    for idx, line in enumerate(lines):
        stripped = line.strip()
        if depth == 0:
            m = re.match(r"^%s\s*=\s*(.*)$" % key, stripped)
            if m:
                value = m.group(1)
                j = idx
                while _open_brackets(value) > 0 and j + 1 < len(lines):
                    j += 1
                    value += " " + lines[j].strip()
                return value.strip()
        depth += _open_brackets(stripped)
    return None


def _open_brackets(s):
    s = re.sub(r'"(\\.|[^"\\])*"', '""', s)
    return sum(s.count(c) for c in "{[(") - sum(s.count(c) for c in "}])")


def _norm(value):
    return re.sub(r"\s+", "", value or "").rstrip(",")


def _description(body):
    raw = _attribute(body, "description") or '""'
    return raw[1:-1].replace('\\"', '"').replace("|", "\\|")


def _type(body):
    raw = _attribute(body, "type") or "any"
    if "\n" in raw or len(raw) > 40 or raw.count("(") > 1:
        outer = re.match(r"^(\w+)\((\w+)", re.sub(r"\s+", "", raw))
        return f"{outer.group(1)}({outer.group(2)})" if outer else raw.split("(")[0]
    return raw


def code_inputs(module):
    text = (module / "variables.tf").read_text()
    out = {}
    for name, body in _blocks(text, "variable"):
        default = _attribute(body, "default")
        out[name] = {
            "description": _description(body),
            "type": _type(body),
            "default": None if default is None else re.sub(r"\s+", " ", default).replace("[ ", "[").replace(" ]", "]"),
        }
    return out


def code_outputs(module):
    text = (module / "outputs.tf").read_text()
    return {name: _description(body) for name, body in _blocks(text, "output")}


def readme_table(readme, heading):
    """Rows (as lists of cells) of the first table under `## heading`."""
    m = re.search(r"^## %s\s*$(.*?)(?=^## |\Z)" % re.escape(heading), readme, re.M | re.S)
    if not m:
        return None
    rows = []
    for line in m.group(1).splitlines():
        line = line.strip()
        if not line.startswith("|") or re.match(r"^\|[\s:|-]+\|$", line):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip("|"))]
        if cells and cells[0] == "Name":
            continue
        rows.append(cells)
    return rows


def _strip_code(cell):
    cell = cell.strip()
    return cell[1:-1] if cell.startswith("`") and cell.endswith("`") else cell


def print_tables(module):
    print("| Name | Description | Type | Default | Required |")
    print("|------|-------------|------|---------|:--------:|")
    for name, v in code_inputs(module).items():
        default = "n/a" if v["default"] is None else f"`{v['default']}`"
        required = "yes" if v["default"] is None else "no"
        print(f"| {name} | {v['description']} | `{v['type']}` | {default} | {required} |")
    print()
    print("| Name | Description |")
    print("|------|-------------|")
    for name, desc in code_outputs(module).items():
        print(f"| {name} | {desc} |")


def check(module):
    readme = (module / "README.md").read_text()
    problems = []

    inputs = code_inputs(module)
    rows = readme_table(readme, "Inputs")
    if rows is None:
        problems.append("README.md has no '## Inputs' section")
        rows = []
    seen = {}
    for cells in rows:
        if len(cells) < 5:
            problems.append(f"Inputs row has {len(cells)} columns, expected 5: {' | '.join(cells)}")
            continue
        name = _strip_code(cells[0])
        if name in seen:
            problems.append(f"input '{name}' is listed twice in the README Inputs table")
        seen[name] = cells
    for name in inputs.keys() - seen.keys():
        problems.append(f"input '{name}' is in variables.tf but missing from the README Inputs table")
    for name in seen.keys() - inputs.keys():
        problems.append(f"input '{name}' is in the README Inputs table but not in variables.tf")
    for name in inputs.keys() & seen.keys():
        want = inputs[name]["default"]
        cells = seen[name]
        got_default = _strip_code(cells[3])
        got_required = cells[4].strip().lower()
        if want is None:
            if got_default != "n/a" or got_required != "yes":
                problems.append(f"input '{name}' has no default in variables.tf: README must say n/a / yes, says {cells[3]} / {cells[4]}")
        else:
            if _norm(got_default) != _norm(want):
                problems.append(f"input '{name}' default drifted: variables.tf has {want}, README has {cells[3]}")
            if got_required != "no":
                problems.append(f"input '{name}' has a default, so README Required must be 'no', is '{cells[4]}'")

    outputs = code_outputs(module)
    rows = readme_table(readme, "Outputs")
    if rows is None:
        problems.append("README.md has no '## Outputs' section")
        rows = []
    listed = [_strip_code(c[0]) for c in rows if c]
    for name in sorted({n for n in listed if listed.count(n) > 1}):
        problems.append(f"output '{name}' is listed twice in the README Outputs table")
    for name in outputs.keys() - set(listed):
        problems.append(f"output '{name}' is in outputs.tf but missing from the README Outputs table")
    for name in set(listed) - outputs.keys():
        problems.append(f"output '{name}' is in the README Outputs table but not in outputs.tf")

    for p in problems:
        print(f"README drift: {p}", file=sys.stderr)
    if not problems:
        print(f"README drift: none ({len(inputs)} inputs, {len(outputs)} outputs match variables.tf and outputs.tf)")
    return 1 if problems else 0


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    module = Path(args[0] if args else Path(__file__).resolve().parent.parent)
    if "--print" in sys.argv:
        print_tables(module)
        sys.exit(0)
    sys.exit(check(module))
