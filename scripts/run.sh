#!/usr/bin/env bash
# Start the whole system (web + worker + scheduler) on embedded defaults: SQLite under instance/, local Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
export PATH="$ROOT/.venv/bin:$PATH"
mkdir -p instance

# a stable random secret for this install, unless one is configured
if [ -z "${SECRET_KEY:-}" ]; then
  [ -s instance/secret_key ] || python -c "import secrets; print(secrets.token_urlsafe(48))" > instance/secret_key
  export SECRET_KEY_FILE="$ROOT/instance/secret_key"
fi

export LOG_FORMAT=${LOG_FORMAT:-text}  # a terminal reads lines; deployments keep the JSON default
export REDIS_URL=${REDIS_URL:-redis://localhost:6379/0}
redis_ok() { python -c "import os, redis; redis.Redis.from_url(os.environ['REDIS_URL'], socket_connect_timeout=1).ping()" 2>/dev/null; }
if ! redis_ok; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "No Redis at $REDIS_URL: starting a private one (data under instance/)"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --dir "$ROOT/instance" --save "" --appendonly no \
      --pidfile "$ROOT/instance/redis.pid" --logfile "$ROOT/instance/redis.log"
    export REDIS_URL=redis://127.0.0.1:6379/0
    for _ in $(seq 50); do redis_ok && break; sleep 0.1; done
  else
    echo "Redis is not reachable at $REDIS_URL and redis-server is not installed: run 'apt-get install redis-server' (or set REDIS_URL)." >&2
    exit 1
  fi
fi

flask --app wsgi db upgrade
if [ -n "${CRONMANAGER_ADMIN_EMAIL:-}" ] && [ -n "${CRONMANAGER_ADMIN_PASSWORD:-}" ]; then
  flask --app wsgi users create --email "$CRONMANAGER_ADMIN_EMAIL" --password "$CRONMANAGER_ADMIN_PASSWORD" --role ADMIN || true
fi
if [ "$(python -c "from wsgi import app
from cronmanager.auth.users import count_users
with app.app_context(): print(count_users())")" = "0" ]; then
  echo
  echo "No users yet. Create the first admin in another terminal:"
  echo "  .venv/bin/flask --app wsgi users create --email you@example.com --role ADMIN"
  echo "or POST /api/v1/auth/register (the first account becomes ADMIN)."
fi
export PORT=${PORT:-5000}
echo
echo "Cron Manager: open http://127.0.0.1:${PORT}/  (Ctrl-C stops web, worker and scheduler)"
exec honcho start -f Procfile -p "$PORT" web worker scheduler
