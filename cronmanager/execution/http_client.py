"""The one guarded HTTP client for all outbound requests.

Every user-configured request the scheduler fires goes through
:class:`HttpClient`, so the safety rules live in one place:

* **SSRF guard.** Unless the client was built with ``allow_private=True``
  its connections go through :mod:`cronmanager.execution.ssrf`, which
  checks every resolved address inside the connection (DNS rebinding).
* **Bounded work.** Bodies are streamed and cut at ``max_body`` bytes; the
  whole exchange (connect, headers, body, redirects) shares one deadline of
  ``timeout_s``.  Residual gap: the deadline is checked between socket reads
  and every read is bounded by the remaining time, but a server dripping the
  *status line/headers* (or a chunk-size line) byte by byte can stretch a
  single header parse beyond the deadline because ``http.client`` reads those
  lines with per-``recv`` timeouts.
* **Never raises for network problems.**  Failures come back as an
  :class:`HttpResult` with a short message and a machine-readable
  ``error_class``; messages never include header values or the full URL
  (either may carry secrets), only the host name.

``error_class`` values:

========================  ======================================  =========
value                     meaning                                 transient
========================  ======================================  =========
``"timeout"``             connect/read/overall deadline exceeded  yes
``"connection"``          refused, reset, unreachable, broken     yes
``"dns"``                 host name did not resolve               only for
                                                                  EAI_AGAIN
``"tls"``                 TLS handshake / certificate failure     no
``"ssrf"``                target refused by the SSRF guard        no
``"invalid_url"``         bad scheme, missing host, bad port      no
``"invalid_request"``     header name/value not sendable          no
``"redirect"``            more than 5 redirects                   no
``"protocol"``            malformed HTTP response / bad encoding  no
``"http_status"``         status not in the expected set          5xx, 408,
                                                                  425, 429
========================  ======================================  =========

Truncation at ``max_body`` is *not* an error: the result keeps its status
based ``ok`` and sets ``truncated=True``.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Collection, Iterator
from dataclasses import replace
from http.client import HTTPException
from http.cookiejar import CookiePolicy
from typing import Self
from urllib.parse import urljoin

import requests
import urllib3.exceptions
from urllib3.connection import HTTPSConnection
from urllib3.response import BaseHTTPResponse

from cronmanager.execution.outcome import ErrorClass, HttpResult, RequestRecord, Timings
from cronmanager.execution.retry import parse_retry_after
from cronmanager.execution.ssrf import (
    GuardedAdapter,
    GuardedHTTPConnection,
    GuardedHTTPSConnection,
    TargetRefused,
    refuse_literal,
    split_target,
)
from cronmanager.secrets import fields

ALLOWED_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"})
MAX_REDIRECTS = 5
MAX_RESPONSE_HEADERS = 50
IDLE_CONNECTION_S = 30.0  # pooled connections unused this long are closed (HttpClient.close_idle)
MAX_HEADER_VALUE = 1024
_READ_CHUNK = 16384
_TRANSIENT_STATUSES = frozenset({408, 425, 429})
_HEADER_NAME_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_SENSITIVE_ON_CROSS_ORIGIN = frozenset(
    {"authorization", "cookie", "proxy-authorization"}
)


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



# --------------------------------------------------------------------------- #
# Error classification
# --------------------------------------------------------------------------- #
def _exc_chain(exc: BaseException) -> Iterator[BaseException]:
    """Walk causes, contexts, urllib3 `.reason`s and exception args (bounded)."""
    stack = [exc]
    seen: set[int] = set()
    while stack and len(seen) < 32:
        cur = stack.pop(0)
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        for nxt in (
            getattr(cur, "reason", None),
            cur.__cause__,
            cur.__context__,
            *cur.args,
        ):
            if isinstance(nxt, BaseException):
                stack.append(nxt)


def _fmt_seconds(t: float) -> str:
    return f"{t:.1f}" if round(t, 1) == t else f"{t:g}"


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return False
    return isinstance(
        exc,
        requests.exceptions.Timeout | urllib3.exceptions.TimeoutError | TimeoutError,
    )


def _classify(exc: BaseException, host: str, timeout_s: float) -> tuple[str, ErrorClass, bool]:
    """Map an exception to (message, error_class, transient) without leaking secrets."""
    chain = list(_exc_chain(exc))

    def find(*types: type[BaseException]) -> BaseException | None:
        return next((e for e in chain if isinstance(e, types)), None)

    if (refused := find(TargetRefused)) is not None:
        return str(refused), refused.error_class, False  # type: ignore[attr-defined]
    if find(urllib3.exceptions.NameResolutionError, socket.gaierror) is not None:
        gai = find(socket.gaierror)
        transient = getattr(gai, "errno", None) == socket.EAI_AGAIN
        return f"DNS lookup failed for {host}", ErrorClass.DNS, transient
    # NB: urllib3's NewConnectionError subclasses ConnectTimeoutError, so a
    # refused connection must not be mistaken for a timeout.
    if any(_is_timeout(e) for e in chain):
        return f"Timed out after {_fmt_seconds(timeout_s)} s", ErrorClass.TIMEOUT, True
    if find(requests.exceptions.SSLError, urllib3.exceptions.SSLError, ssl.SSLError):
        ssl_exc = find(ssl.SSLError)
        detail = ""
        if isinstance(ssl_exc, ssl.SSLCertVerificationError) and ssl_exc.verify_message:
            detail = f"certificate verify failed: {ssl_exc.verify_message}"
        elif isinstance(ssl_exc, ssl.SSLError):
            detail = (
                (ssl_exc.reason or ssl_exc.strerror or "").replace("_", " ").lower()
            )
        return (f"TLS error: {detail}" if detail else "TLS error"), ErrorClass.TLS, False
    if find(ConnectionRefusedError) is not None:
        return "Connection refused", ErrorClass.CONNECTION, True
    if find(ConnectionResetError, ConnectionAbortedError, BrokenPipeError) is not None:
        return "Connection reset by peer", ErrorClass.CONNECTION, True
    if find(urllib3.exceptions.DecodeError, requests.exceptions.ContentDecodingError):
        return "Could not decode response body (Content-Encoding)", ErrorClass.PROTOCOL, False
    if find(
        urllib3.exceptions.LocationParseError,
        requests.exceptions.InvalidURL,
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidSchema,
    ):
        return "Invalid URL", ErrorClass.INVALID_URL, False
    if find(
        urllib3.exceptions.IncompleteRead, requests.exceptions.ChunkedEncodingError
    ):
        return "Connection broken while reading the response", ErrorClass.CONNECTION, True
    if find(HTTPException, urllib3.exceptions.HeaderParsingError) is not None:
        return "Invalid HTTP response from server", ErrorClass.PROTOCOL, False
    oserr = next((e for e in chain if isinstance(e, OSError) and e.strerror), None)
    if oserr is not None:
        return f"Connection failed: {oserr.strerror}", ErrorClass.CONNECTION, True
    return f"Request failed ({type(exc).__name__})", ErrorClass.CONNECTION, True


# --------------------------------------------------------------------------- #
# Client
# --------------------------------------------------------------------------- #
class _Deadline(Exception):
    """Overall deadline passed while streaming the body."""


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


class _Trace:
    """What the connection saw during one request; lives in a thread-local while `HttpClient.request` runs."""

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


_tracing = threading.local()


def _trace() -> _Trace | None:
    return getattr(_tracing, "trace", None)


class _TracedMixin:
    """Feeds the current request's _Trace: DNS and connect times (from the guard), TLS time, the socket."""

    sock: socket.socket | None

    def _phase(self, name: str, started: float, sock: socket.socket | None = None) -> None:
        trace = _trace()
        if trace is not None:
            trace.phases[name] = _ms_since(started)
            trace.attach(sock)

    def connect(self) -> None:
        started = time.monotonic()
        try:
            super().connect()  # type: ignore[misc]
        finally:
            trace = _trace()
            if trace is not None and isinstance(self, HTTPSConnection) and "connect" in trace.phases:
                trace.phases["tls"] = max(
                    _ms_since(started) - trace.phases.get("dns", 0) - trace.phases["connect"], 0
                )
        if trace is not None:
            trace.attach(self.sock)

    def request(self, *args: object, **kwargs: object) -> None:
        self.last_used = time.monotonic()  # read by HttpClient.close_idle while the connection sits in its pool
        trace = _trace()
        if trace is not None:
            trace.attach(self.sock)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _TracedHTTPConnection(_TracedMixin, GuardedHTTPConnection):
    pass


class _TracedHTTPSConnection(_TracedMixin, GuardedHTTPSConnection):
    pass


class _OpenHTTPConnection(_TracedHTTPConnection):
    check_addresses = False


class _OpenHTTPSConnection(_TracedHTTPSConnection):
    check_addresses = False


def _request_record(prepared: requests.PreparedRequest) -> RequestRecord:
    body = prepared.body
    data = body.encode("utf-8") if isinstance(body, str) else (body or b"")
    masked = fields.split(dict(prepared.headers), None, str(prepared.url))  # the one rule for what is secret
    return RequestRecord(
        method=str(prepared.method), url=masked.endpoint_url or "", headers=masked.headers or {},
        body_size=len(data), body_sha256=hashlib.sha256(data).hexdigest() if data else None,
    )


class HttpClient:
    """Thread-safe, connection-pooling HTTP client with SSRF guard and hard limits.

    One instance is meant to be shared by all worker threads; it holds one
    ``requests.Session`` whose adapter keeps up to ``pool_size`` connections
    per host (``pool_block=False``: excess concurrent requests open extra,
    unpooled connections rather than waiting).  Cookies, proxies from the
    environment and ``.netrc`` are disabled because jobs must not leak state
    into each other.
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        max_body: int = 65536,
        pool_size: int = 100,
        user_agent: str = "CronManager/1.0",
    ) -> None:
        if max_body < 0:
            raise ValueError("max_body must be >= 0")
        if pool_size < 1:
            raise ValueError("pool_size must be >= 1")
        self.allow_private = allow_private
        self.max_body = max_body
        self._closed = False
        self._lock = threading.Lock()
        session = requests.Session()
        session.trust_env = False  # no env proxies (would bypass the guard), no .netrc
        session.cookies.set_policy(_RejectAllCookies())
        session.headers["User-Agent"] = user_agent
        classes = (_OpenHTTPConnection, _OpenHTTPSConnection) if allow_private else (
            _TracedHTTPConnection, _TracedHTTPSConnection)
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
        self._session = session

    # -- lifecycle -------------------------------------------------------- #
    def close(self) -> None:
        """Close pooled connections; further requests raise RuntimeError."""
        with self._lock:
            self._closed = True
            self._session.close()

    def close_idle(self, idle_s: float = IDLE_CONNECTION_S) -> int:
        """Close pooled connections unused for `idle_s`; returns how many. Their slots stay, so a later request
        reconnects.

        The pool keeps a connection for every request that was ever in flight at once, and a burst of
        same-second fires opens one per fire: without this, a worker holds its busiest moment's sockets to every
        target for good (the soak saw them creep with each new peak), and a target or a NAT that silently drops
        an old connection fails the next fire that reuses it.
        """
        cutoff = time.monotonic() - idle_s
        closed = 0
        for adapter in list(self._session.adapters.values()):
            pools = getattr(getattr(adapter, "poolmanager", None), "pools", None)
            for key in pools.keys() if pools is not None else []:
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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- public API ------------------------------------------------------- #
    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        body: str | None = None,
        json_body: object | None = None,
        timeout_s: float = 30.0,
        expected_status: Collection[int] | None = None,
        follow_redirects: bool = False,
        cancellation: Cancellation | None = None,
        details: bool = True,
    ) -> HttpResult:
        """Send one request and always return an HttpResult for network-level problems.

        With ``details`` the result carries the forensic record: the request as sent (secrets masked),
        per-phase timings and the address connected to. ``cancellation`` lets another thread close the
        connection; the result then says ``replaced``.
        """
        trace = _Trace(cancellation)
        _tracing.trace = trace
        try:
            result = self._request(method, url, headers=headers, params=params, body=body, json_body=json_body,
                                   timeout_s=timeout_s, expected_status=expected_status,
                                   follow_redirects=follow_redirects, trace=trace)
        finally:
            _tracing.trace = None
        if cancellation is not None and cancellation.cancelled:
            result = replace(result, ok=False, error="Replaced by a newer fire (concurrency policy replace)",
                             error_class=ErrorClass.REPLACED, transient=False)
        if not details:
            return result
        phases = trace.phases
        return replace(
            result,
            request=_request_record(trace.prepared) if trace.prepared is not None else None,
            timings=Timings(dns=phases.get("dns"), connect=phases.get("connect"), tls=phases.get("tls"),
                            ttfb=phases.get("ttfb"), total=result.elapsed_ms),
            remote_addr=trace.remote_addr,
        )

    def _request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None,
        params: dict[str, str] | None,
        body: str | None,
        json_body: object | None,
        timeout_s: float,
        expected_status: Collection[int] | None,
        follow_redirects: bool,
        trace: _Trace,
    ) -> HttpResult:
        """Send one request and always return an HttpResult for network-level problems.

        Raises ValueError only for programming errors (unknown method, both
        ``body`` and ``json_body``, non-positive timeout, unserialisable JSON).
        ``expected_status=None`` means any 2xx is ok.  Redirects are reported
        as-is unless ``follow_redirects`` (max 5 hops, each re-checked).
        """
        method_u = str(method).upper()
        if method_u not in ALLOWED_METHODS:
            raise ValueError(f"Unsupported HTTP method {method!r}")
        if body is not None and json_body is not None:
            raise ValueError("Pass either body or json_body, not both")
        if not timeout_s or timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")
        if self._closed:
            raise RuntimeError("HttpClient is closed")

        start = time.monotonic()
        deadline = start + timeout_s
        req_headers: dict[str, str] = dict(headers or {})
        data: bytes | None = None
        if json_body is not None:
            try:
                data = json.dumps(json_body).encode("utf-8")
            except (TypeError, ValueError) as exc:
                raise ValueError(f"json_body is not JSON serialisable: {exc}") from None
            if not any(k.lower() == "content-type" for k in req_headers):
                req_headers["Content-Type"] = "application/json"
        elif body is not None:
            data = body.encode("utf-8")

        def fail(
            message: str, error_class: ErrorClass, transient: bool, **extra: object
        ) -> HttpResult:
            fields: dict[str, object] = {
                "ok": False,
                "status_code": None,
                "headers": {},
                "body": "",
                "truncated": False,
                "retry_after_s": None,
            }
            fields.update(extra)
            return HttpResult(
                elapsed_ms=_ms_since(start),
                error=message,
                error_class=error_class,
                transient=transient,
                **fields,  # type: ignore[arg-type]
            )

        bad_header = _invalid_header(req_headers)
        if bad_header is not None:
            return fail(bad_header, ErrorClass.INVALID_REQUEST, False)

        host = ""
        current_url = url
        current_params: dict[str, str] | None = params
        for hop in range(MAX_REDIRECTS + 1):
            try:
                scheme, host, port = split_target(current_url)
                if not self.allow_private:
                    refuse_literal(host)
            except TargetRefused as exc:
                return fail(str(exc), exc.error_class, False)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return fail(
                    f"Timed out after {_fmt_seconds(timeout_s)} s", ErrorClass.TIMEOUT, True
                )
            if trace.cancellation is not None and trace.cancellation.cancelled:
                return fail("Replaced by a newer fire (concurrency policy replace)", ErrorClass.REPLACED, False)
            try:
                trace.prepared = None
                trace.phases.clear()
                hop_started = time.monotonic()
                trace.prepared = self._session.prepare_request(requests.Request(
                    method_u, current_url, headers=req_headers, params=current_params, data=data))
                resp = self._session.send(
                    trace.prepared,
                    timeout=(remaining, remaining),
                    allow_redirects=False,
                    stream=True,
                    verify=True,
                    proxies={},
                )
                trace.phases["ttfb"] = _ms_since(hop_started)
            except (
                TargetRefused,
                requests.RequestException,
                urllib3.exceptions.HTTPError,
                HTTPException,
                OSError,
                UnicodeError,
            ) as exc:
                return fail(*_classify(exc, host, timeout_s))

            if follow_redirects and resp.is_redirect:
                location = self._session.get_redirect_target(resp)
                next_url = urljoin(resp.url, location) if location else None
                resp.close()
                if hop == MAX_REDIRECTS:
                    return fail(
                        f"Too many redirects (more than {MAX_REDIRECTS})",
                        ErrorClass.REDIRECT,
                        False,
                        status_code=resp.status_code,
                    )
                assert next_url is not None  # is_redirect implies a Location header
                status = resp.status_code
                if (status == 303 and method_u != "HEAD") or (
                    status in (301, 302) and method_u == "POST"
                ):
                    method_u = "GET"
                    data = None
                    req_headers = {
                        k: v
                        for k, v in req_headers.items()
                        if k.lower() not in ("content-type", "content-length")
                    }
                try:
                    n_scheme, n_host, n_port = split_target(next_url)
                except TargetRefused as exc:
                    return fail(
                        f"Redirect refused: {exc}",
                        exc.error_class,
                        False,
                        status_code=status,
                    )
                if (n_scheme, n_host, n_port) != (scheme, host, port):
                    req_headers = {
                        k: v
                        for k, v in req_headers.items()
                        if k.lower() not in _SENSITIVE_ON_CROSS_ORIGIN
                    }
                current_url = next_url
                current_params = None  # already part of the redirect target
                continue
            return self._finish(resp, start, deadline, timeout_s, expected_status, host)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- internals -------------------------------------------------------- #
    def _finish(
        self,
        resp: requests.Response,
        start: float,
        deadline: float,
        timeout_s: float,
        expected_status: Collection[int] | None,
        host: str,
    ) -> HttpResult:
        """Stream the body under the byte cap and deadline; build the result."""
        status = resp.status_code
        out_headers: dict[str, str] = {}
        for name, value in list(resp.headers.items())[:MAX_RESPONSE_HEADERS]:
            out_headers[name] = value[:MAX_HEADER_VALUE]
        retry_after = parse_retry_after(resp.headers.get("Retry-After"))

        chunks: list[bytes] = []
        total = 0
        truncated = False
        error: tuple[str, ErrorClass, bool] | None = None
        raw = resp.raw
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _Deadline
                _set_read_timeout(raw, remaining)
                chunk = raw.read1(
                    min(_READ_CHUNK, self.max_body + 1 - total), decode_content=True
                )
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
                if total > self.max_body:
                    truncated = True
                    break
        except _Deadline:
            error = (f"Timed out after {_fmt_seconds(timeout_s)} s", ErrorClass.TIMEOUT, True)
        except (
            requests.RequestException,
            urllib3.exceptions.HTTPError,
            HTTPException,
            OSError,
        ) as exc:
            error = _classify(exc, host, timeout_s)
        finally:
            resp.close()  # fully read -> already back in the pool; otherwise discarded

        data = b"".join(chunks)[: self.max_body]
        text = data.decode("utf-8", errors="replace")
        is_ok = (
            (200 <= status < 300)
            if expected_status is None
            else status in expected_status
        )
        if error is None and not is_ok:
            hint = " (redirect not followed)" if resp.is_redirect else ""
            transient = status >= 500 or status in _TRANSIENT_STATUSES
            error = (f"HTTP {status}{hint}", ErrorClass.HTTP_STATUS, transient)
        return HttpResult(
            ok=is_ok and error is None,
            status_code=status,
            headers=out_headers,
            body=text,
            truncated=truncated,
            elapsed_ms=_ms_since(start),
            error=error[0] if error else None,
            error_class=error[1] if error else None,
            transient=error[2] if error else False,
            retry_after_s=retry_after,
        )


def _ms_since(start: float) -> int:
    return round((time.monotonic() - start) * 1000)


def _set_read_timeout(raw: BaseHTTPResponse, remaining: float) -> None:
    """Bound the next socket read by the time left before the overall deadline."""
    conn = getattr(raw, "connection", None)
    sock = getattr(conn, "sock", None)
    if sock is not None:
        try:
            sock.settimeout(max(remaining, 0.001))
        except OSError:
            pass


def _invalid_header(headers: dict[str, str]) -> str | None:
    """Message naming the first unsendable header (never its value), or None."""
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME_RE.match(name):
            return "Invalid header name"
        if not isinstance(value, str) or any(c in value for c in "\r\n\x00"):
            return f"Invalid value for header {name}"
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            return f"Invalid value for header {name} (non-Latin-1 characters)"
    return None
