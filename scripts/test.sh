#!/usr/bin/env bash
# Install everything the tests need and run the whole suite: lint, types, layering, tests
# on SQLite, DuckDB, PostgreSQL and PySpark local mode. This is the README's second command
# and what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

need_apt=()
command -v java >/dev/null 2>&1 || need_apt+=(default-jre-headless)
command -v pg_ctlcluster >/dev/null 2>&1 || command -v pg_ctl >/dev/null 2>&1 || need_apt+=(postgresql)
# WeasyPrint (PDF statements) needs Pango; the browser tests need Debian's Chromium.
ldconfig -p 2>/dev/null | grep -q 'libpango-1.0.so' || need_apt+=(libpango-1.0-0 libpangoft2-1.0-0)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if ((${#need_apt[@]})); then
  log "installing Debian packages: ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"; fi
fi

log "python environment"
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements/test.txt
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .

log "postgresql"
export OPENVBC_TEST_POSTGRES_URL=${OPENVBC_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && ls /etc/postgresql/* >/dev/null 2>&1; then
    version=$(ls /etc/postgresql | sort -V | tail -1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if ! .venv/bin/python -c "import psycopg,os; psycopg.connect(os.environ['OPENVBC_TEST_POSTGRES_URL'], connect_timeout=5).close()" 2>/dev/null; then
  # No usable server on 5432 (none installed, or not trust auth): run a private throw-away
  # cluster with trust auth on a side port, owned by the postgres system user.
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  pgdata=/tmp/openvbc-test-pg
  if [ ! -f "$pgdata/PG_VERSION" ]; then
    mkdir -p "$pgdata" && chown postgres "$pgdata"
    su postgres -c "$bindir/initdb -q -A trust -U postgres -D $pgdata"
  fi
  su postgres -c "$bindir/pg_ctl -s -D $pgdata -o '-p 55432 -k /tmp' -l $pgdata/log start -w" || true
  export OPENVBC_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:55432/postgres
fi
.venv/bin/python -c "import psycopg,os; psycopg.connect(os.environ['OPENVBC_TEST_POSTGRES_URL']).close(); print('postgres ok:', os.environ['OPENVBC_TEST_POSTGRES_URL'])"

log "ruff"
.venv/bin/ruff check src tests bench
log "mypy"
.venv/bin/mypy
log "import-linter"
.venv/bin/lint-imports
log "pytest"
.venv/bin/pytest -q -p no:cacheprovider "$@"
