#!/usr/bin/env bash
# Run the whole test suite: lint, layers, types, the fast tests and the slow end-to-end and browser tests (CI runs
# exactly this). 9 to 11 minutes on 2 cores (docs/benchmarks.md, The test suite); `scripts/test.sh --fast`
# runs the checks and the fast tests only.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
fast_only=false
if [ "${1:-}" = "--fast" ]; then fast_only=true; shift; fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# uv installs the same pins as pip in seconds instead of about a minute (its own pin is in requirements-dev.txt)
[ -x .venv/bin/uv ] || .venv/bin/pip install -q --disable-pip-version-check "$(grep '^uv==' requirements-dev.txt)"
.venv/bin/uv pip install -q --python .venv/bin/python -r requirements-dev.txt
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
if $fast_only; then
  mypy  # types of cronmanager/ and config.py (pyproject.toml [tool.mypy])
  exec pytest -m "not slow" -n "${FAST_WORKERS:-2}" --dist worksteal --durations=10 "$@"
fi

# Both phases run at once, on pytest-xdist workers that each have their own database and Redis prefix
# (tests/conftest.py). The slow tests mostly wait on the processes they start and on the clock, so the fast ones
# and mypy run beside them at the lowest CPU priority and take the cores only when the slow ones leave them idle:
# the processes under test keep their CPU and meet their deadlines. On a slow 2-core machine more than 4 slow
# workers starve those processes. `-n 0` in the arguments runs each phase serially.
slow_log=$(mktemp)
pytest -m slow -n "${SLOW_WORKERS:-4}" --dist worksteal --durations=25 "$@" >"$slow_log" 2>&1 &
slow_pid=$!
trap 'kill "$slow_pid" 2>/dev/null || true; rm -f "$slow_log"' EXIT
status=0
nice -n 19 mypy || status=$?  # types of cronmanager/ and config.py (pyproject.toml [tool.mypy])
# niced, a test's time includes what the slow phase takes from it: a 25-CPU-s test ran past the 300-s timeout
# once on a machine about 1.4x slower than usual; the timeout is there to catch hangs, which 900 s still does
nice -n 19 pytest -m "not slow" -n "${FAST_WORKERS:-2}" --dist worksteal --durations=10 --timeout=900 "$@" || status=$?
slow_status=0
wait "$slow_pid" || slow_status=$?
echo "--- slow tests (end-to-end and browser) ---"
cat "$slow_log"
[ "$status" -eq 0 ] && exit "$slow_status"
exit "$status"
