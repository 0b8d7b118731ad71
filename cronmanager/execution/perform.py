"""Turn a job's configuration into one guarded HTTP request (shared by fires, manual runs and tests)."""

from __future__ import annotations

import threading
from typing import Any

from cronmanager.execution.http_client import HttpClient, HttpResult

_clients: dict[bool, HttpClient] = {}
_lock = threading.Lock()


def client(allow_private: bool) -> HttpClient:
    """One pooled client per process (and per SSRF setting), shared by all executor threads."""
    with _lock:
        if allow_private not in _clients:
            _clients[allow_private] = HttpClient(allow_private=allow_private, pool_size=500)
        return _clients[allow_private]


def perform_request(job: Any, *, allow_private: bool, extra_headers: dict[str, str] | None = None) -> HttpResult:
    """`job` is a CronJob or a dict with the same field names."""
    get = job.get if isinstance(job, dict) else lambda k, d=None: getattr(job, k, d)
    headers = {**(get("headers") or {}), **(extra_headers or {})}
    return client(allow_private).request(
        get("http_method") or "GET",
        get("endpoint_url"),
        headers=headers,
        params=get("query_params") or None,
        body=get("body"),
        timeout_s=(get("timeout_ms") or 30000) / 1000.0,
        expected_status=get("expected_statuses") or None,
    )
