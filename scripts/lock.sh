#!/usr/bin/env bash
# Re-pin requirements/*.txt from the current .venv (run after changing dependencies).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pip freeze --exclude-editable | grep -v '^-e ' | sort -f > /tmp/openvbc-freeze.txt
test_only='^(pytest|pytest-xdist|execnet|iniconfig|pluggy|hypothesis|sortedcontainers|ruff|mypy|mypy_extensions|librt|ast_serialize|pathspec|import-linter|grimp|types-|pyspark|py4j|playwright|greenlet|pyee|schemathesis)'
grep -Ev -i "$test_only" /tmp/openvbc-freeze.txt > requirements/base.txt
{ echo "-r base.txt"; grep -E -i "$test_only" /tmp/openvbc-freeze.txt; } > requirements/test.txt
echo "pinned $(wc -l < requirements/base.txt) runtime and $(($(wc -l < requirements/test.txt) - 1)) test packages"
