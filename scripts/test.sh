#!/usr/bin/env bash
# Run the whole test suite: lint, fast tests, then the slow end-to-end and browser tests (CI runs exactly this).
# 10 to 14 minutes on 2 cores (docs/benchmarks.md, The test suite); `scripts/test.sh --fast` stops after the fast tests.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
fast_only=false
if [ "${1:-}" = "--fast" ]; then fast_only=true; shift; fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
export PATH="$PWD/.venv/bin:$PATH"

# real services: PostgreSQL and Redis (started if down), Chromium for the browser tests
pg_isready -h 127.0.0.1 -p 5432 -q || pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 \
  || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
for _ in $(seq 100); do pg_isready -h 127.0.0.1 -p 5432 -q && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.2; done
if [ ! -x /usr/bin/chromium ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "warning: could not install chromium; browser tests will fail" >&2
fi

ruff check .
lint-imports --no-cache  # the layers (pyproject.toml [tool.importlinter])
mypy  # types of cronmanager/ and config.py (pyproject.toml [tool.mypy])
# Both phases run on several pytest-xdist workers, each with its own database and Redis prefix (tests/conftest.py):
# the fast tests use the CPU, so one worker per core; the slow ones mostly wait on the processes they start, but
# on a slow 2-core machine more than 4 at once starve those processes past the tests' deadlines.
# `-n 0` in the arguments runs them serially.
pytest -m "not slow" -n "${FAST_WORKERS:-2}" --dist worksteal --durations=10 "$@"
$fast_only || pytest -m slow -n "${SLOW_WORKERS:-4}" --dist worksteal --durations=25 "$@"
