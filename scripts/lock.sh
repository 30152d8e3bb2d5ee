#!/usr/bin/env bash
# Re-pin requirements/*.txt from the current .venv (run after changing dependencies).
# base.txt: what `pip install .` needs (resolved against the versions in the venv);
# test.txt: everything else in the venv (test tools, PySpark, the browser driver).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pip freeze --exclude-editable | grep -v '^-e ' | sort -f > /tmp/openvbc-freeze.txt
.venv/bin/pip install --quiet --dry-run --ignore-installed --no-deps . >/dev/null  # sanity: metadata builds
.venv/bin/python - <<'PY'
import re, subprocess, sys, json
from importlib.metadata import distribution, PackageNotFoundError
from packaging.requirements import Requirement

def norm(name): return re.sub(r"[-_.]+", "-", name).lower()
pins = {}
for line in open("/tmp/openvbc-freeze.txt"):
    if "==" in line:
        name, version = line.strip().split("==", 1)
        pins[norm(name)] = (name, version)

def walk(req_strings, seen, extras_ok=()):
    for text in req_strings:
        req = Requirement(text)
        if req.marker and not req.marker.evaluate({"extra": ""}) and not any(
            req.marker.evaluate({"extra": e}) for e in extras_ok):
            continue
        key = norm(req.name)
        if key in seen or key not in pins:
            continue
        seen.add(key)
        try:
            dist = distribution(req.name)
        except PackageNotFoundError:
            continue
        walk(dist.requires or [], seen, tuple(req.extras))

root = distribution("openvbc")
base = set()
runtime = [r for r in (root.requires or []) if "extra ==" not in r]
walk(runtime, base)
test = set()
extra_reqs = [r.split(";")[0] for r in (root.requires or []) if "extra ==" in r]
walk(extra_reqs, test)
with open("requirements/base.txt", "w") as out:
    for key in sorted(base):
        name, version = pins[key]
        out.write(f"{name}=={version}\n")
with open("requirements/test.txt", "w") as out:
    out.write("-r base.txt\n")
    for key in sorted(set(pins) - base):
        name, version = pins[key]
        out.write(f"{name}=={version}\n")
print(f"pinned {len(base)} runtime and {len(pins) - len(base)} test packages")
PY
