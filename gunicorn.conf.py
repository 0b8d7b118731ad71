"""gunicorn settings for `web` (Procfile: `web: gunicorn -c gunicorn.conf.py wsgi:app`).

gevent workers: every open SSE stream is a cheap greenlet waiting on its Redis pub/sub socket, so hundreds of
viewers do not starve page and API requests (sync workers hold one request each; gthread holds one thread per
stream). psycopg2 is made cooperative with psycogreen, otherwise every query would block the whole worker.
The app is loaded in each worker after gevent has patched the standard library (no preload_app), so the
Redis and database connections are created already cooperative.
"""

from __future__ import annotations

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# open connections per worker. Live streams are capped lower (SSE_MAX_STREAMS, then a fast 503 + Retry-After):
# the rest is headroom for pages, the API, /health and those 503s. Were the two equal, a full house of
# viewers would leave no connection to accept /health with (measured: 7.7 s at 4,000 viewers).
worker_connections = int(os.environ.get("WEB_WORKER_CONNECTIONS",
                                        str(int(os.environ.get("SSE_MAX_STREAMS", "500")) + 1000)))
timeout = 30  # gevent workers heartbeat from their own loop; long-lived streams are not killed by this
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT", "10"))  # then open streams are cut; clients reconnect
keepalive = 5
accesslog = os.environ.get("WEB_ACCESS_LOG", "-") or None
# path without the query string: `?token=` carries API tokens and must never reach a log
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'
errorlog = "-"
logger_class = "cronmanager.logging_setup.GunicornLogger"  # JSON lines (LOG_FORMAT), ids included
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
preload_app = False


def post_worker_init(worker) -> None:
    """Runs in the worker after gevent's patch_all(): make psycopg2 yield to other greenlets while it waits."""
    from psycogreen.gevent import patch_psycopg

    patch_psycopg()
