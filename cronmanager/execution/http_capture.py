"""What the connection saw during one request, for the forensic run record, and the hook that cancels it.

The guarded connection classes (`http_transport.py`) feed the `Capture` of the request running on their thread:
DNS and connect times (from the SSRF guard), TLS time, time to first byte, the address actually connected to.
No extra request is made. `Cancellation` lets another thread shut that socket down (concurrency policy `replace`).
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import cast

import requests
from urllib3.connection import HTTPSConnection

from cronmanager.execution.outcome import RequestRecord, Timings
from cronmanager.secrets import fields


class Cancellation:
    """Lets another thread end a request at once by shutting its socket down (concurrency policy 'replace').

    The target sees the connection close; the request comes back as a `replaced` failure.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self.cancelled = False

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            self._shutdown()

    def attach(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._sock = sock
            if self.cancelled:
                self._shutdown()

    def _shutdown(self) -> None:
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Capture:
    """What the connection saw during one request; current on its thread while `HttpClient.request` runs."""

    def __init__(self, cancellation: Cancellation | None) -> None:
        self.cancellation = cancellation
        self.phases: dict[str, int] = {}
        self.remote_addr: str | None = None
        self.prepared: requests.PreparedRequest | None = None

    def attach(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        try:
            self.remote_addr = str(sock.getpeername()[0])
        except OSError:
            pass
        if self.cancellation is not None:
            self.cancellation.attach(sock)

    @property
    def cancelled(self) -> bool:
        return self.cancellation is not None and self.cancellation.cancelled

    def timings(self, total_ms: int) -> Timings:
        phases = self.phases
        return Timings(dns=phases.get("dns"), connect=phases.get("connect"), tls=phases.get("tls"),
                       ttfb=phases.get("ttfb"), total=total_ms)

    def request_record(self) -> RequestRecord | None:
        return request_record(self.prepared) if self.prepared is not None else None


_local = threading.local()


def _current() -> Capture | None:
    return getattr(_local, "capture", None)


@contextlib.contextmanager
def capturing(capture: Capture) -> Iterator[Capture]:
    """Makes `capture` the one this thread's connections feed, for the duration of one request."""
    _local.capture = capture
    try:
        yield capture
    finally:
        _local.capture = None


class CapturingMixin:
    """Feeds the current request's Capture: DNS and connect times (from the guard), TLS time, the socket."""

    sock: socket.socket | None

    def _phase(self, name: str, started: float, sock: socket.socket | None = None) -> None:
        capture = _current()
        if capture is not None:
            capture.phases[name] = ms_since(started)
            capture.attach(sock)

    def connect(self) -> None:
        started = time.monotonic()
        try:
            super().connect()  # type: ignore[misc]  # mixin: HTTPConnection's
        finally:
            capture = _current()
            if capture is not None and isinstance(self, HTTPSConnection) and "connect" in capture.phases:
                capture.phases["tls"] = max(
                    ms_since(started) - capture.phases.get("dns", 0) - capture.phases["connect"], 0
                )
        if capture is not None:
            capture.attach(self.sock)

    def request(self, *args: object, **kwargs: object) -> None:
        self.last_used = time.monotonic()  # read by HttpClient.close_idle while the connection sits in its pool
        capture = _current()
        if capture is not None:
            capture.attach(self.sock)
        super().request(*args, **kwargs)  # type: ignore[misc]  # mixin: HTTPConnection's


def ms_since(start: float) -> int:
    return round((time.monotonic() - start) * 1000)


def request_record(prepared: requests.PreparedRequest) -> RequestRecord:
    body = prepared.body
    data = body.encode("utf-8") if isinstance(body, str) else body if isinstance(body, bytes) else b""
    headers = cast("dict[str, str]", dict(prepared.headers))  # the client sends text headers only (http_limits)
    masked = fields.split(headers, None, str(prepared.url))  # the one rule for what is secret
    return RequestRecord(
        method=str(prepared.method), url=masked.endpoint_url or "", headers=masked.headers or {},
        body_size=len(data), body_sha256=hashlib.sha256(data).hexdigest() if data else None,
    )
