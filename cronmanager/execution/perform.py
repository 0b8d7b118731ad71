"""Turn a job's configuration into one guarded HTTP request (shared by fires, manual runs and tests)."""

from __future__ import annotations

import threading

from cronmanager.execution import assertions
from cronmanager.execution.http_capture import Cancellation
from cronmanager.execution.http_client import HttpClient
from cronmanager.execution.http_transport import IDLE_CONNECTION_S
from cronmanager.execution.outcome import HttpResult, JobSnapshot

_clients: dict[bool, HttpClient] = {}
_lock = threading.Lock()


def client(allow_private: bool) -> HttpClient:
    """One pooled client per process (and per SSRF setting), shared by all executor threads."""
    with _lock:
        if allow_private not in _clients:
            _clients[allow_private] = HttpClient(allow_private=allow_private, pool_size=500)
        return _clients[allow_private]


def close_idle_connections(idle_s: float = IDLE_CONNECTION_S) -> int:
    """Called by the executor's heartbeat: sockets of past bursts are not kept for good."""
    with _lock:
        clients = list(_clients.values())
    return sum(c.close_idle(idle_s) for c in clients)


def perform_request(job: JobSnapshot, *, allow_private: bool, extra_headers: dict[str, str] | None = None,
                    cancellation: Cancellation | None = None, details: bool = True) -> HttpResult:
    """The request, then the job's response assertions (a `status_in` assertion judges the status itself)."""
    expected = assertions.ALL_STATUSES if assertions.judges_status(job.assertions) else job.expected_statuses
    result = client(allow_private).request(
        job.http_method,
        job.endpoint_url,
        headers=job.headers,
        call_headers=extra_headers,
        prepare_once=True,  # a job sends the same request every fire
        params=job.query_params or None,
        body=job.body,
        timeout_s=job.timeout_ms / 1000.0,
        expected_status=expected,
        cancellation=cancellation,
        details=details,
    )
    return assertions.apply(job.assertions, result)
