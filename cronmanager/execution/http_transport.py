"""The shared session and its connection pools: guarded, capturing connections, no state shared between jobs,
and idle connections closed.

Cookies, proxies from the environment and ``.netrc`` are disabled because jobs must not leak state into each
other (and an environment proxy would bypass the SSRF guard).
"""

from __future__ import annotations

import time
from http.cookiejar import CookiePolicy

import requests

from cronmanager.execution.http_capture import CapturingMixin
from cronmanager.execution.ssrf import GuardedAdapter, GuardedHTTPConnection, GuardedHTTPSConnection

IDLE_CONNECTION_S = 30.0  # pooled connections unused this long are closed (HttpClient.close_idle)


class _RejectAllCookies(CookiePolicy):
    """The session is shared by unrelated jobs: never store or send cookies."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = False

    def set_ok(self, cookie: object, request: object) -> bool:
        return False

    def return_ok(self, cookie: object, request: object) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: object) -> bool:
        return False

    def path_return_ok(self, path: str, request: object) -> bool:
        return False


class _CapturedHTTPConnection(CapturingMixin, GuardedHTTPConnection):
    pass


class _CapturedHTTPSConnection(CapturingMixin, GuardedHTTPSConnection):
    pass


class _OpenHTTPConnection(_CapturedHTTPConnection):
    check_addresses = False


class _OpenHTTPSConnection(_CapturedHTTPSConnection):
    check_addresses = False


def new_session(*, allow_private: bool, pool_size: int, user_agent: str) -> requests.Session:
    """A session whose adapter keeps up to ``pool_size`` connections per host (``pool_block=False``: excess
    concurrent requests open extra, unpooled connections rather than waiting)."""
    session = requests.Session()
    session.trust_env = False  # no env proxies (would bypass the guard), no .netrc
    session.cookies.set_policy(_RejectAllCookies())
    session.headers["User-Agent"] = user_agent
    classes = (_OpenHTTPConnection, _OpenHTTPSConnection) if allow_private else (
        _CapturedHTTPConnection, _CapturedHTTPSConnection)
    for prefix in ("http://", "https://"):
        session.mount(
            prefix,
            GuardedAdapter(
                connection_classes=classes,
                pool_connections=pool_size,
                pool_maxsize=pool_size,
                pool_block=False,
                max_retries=0,
            ),
        )
    return session


def close_idle(session: requests.Session, idle_s: float) -> int:
    """Close the session's pooled connections unused for `idle_s`; returns how many. Their slots stay, so a later
    request reconnects."""
    cutoff = time.monotonic() - idle_s
    closed = 0
    for adapter in list(session.adapters.values()):
        pools = getattr(getattr(adapter, "poolmanager", None), "pools", None)
        if pools is None:
            continue
        for key in pools.keys():
            pool = pools.get(key)
            queue = getattr(pool, "pool", None)  # None once the pool is closed
            if queue is None:
                continue
            with queue.mutex:  # the pool's own lock: no request can take a connection meanwhile
                for conn in queue.queue:
                    if conn is not None and conn.sock is not None and getattr(conn, "last_used", 0) < cutoff:
                        conn.close()
                        closed += 1
    return closed
