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
  ``error_class`` (the values and what may pass on a retry:
  :mod:`cronmanager.execution.http_errors`).

Beside it: ``http_limits.py`` (methods, redirects, header and body caps, reads bounded by the deadline),
``http_errors.py`` (classification), ``http_transport.py`` (the shared session, its pools, idle connections),
``http_capture.py`` (per-phase timings, the address connected to and the request as sent, for the forensic
record; cancellation).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Self
from urllib.parse import urljoin

import requests
from requests.structures import CaseInsensitiveDict

from cronmanager.execution import http_transport
from cronmanager.execution.http_capture import Cancellation, Capture, capturing, ms_since
from cronmanager.execution.http_errors import (
    NETWORK_ERRORS,
    REPLACED,
    Failure,
    classify,
    status_failure,
    timed_out,
)
from cronmanager.execution.http_limits import (
    ALLOWED_METHODS,
    MAX_REDIRECTS,
    READ_CHUNK,
    SENSITIVE_ON_CROSS_ORIGIN,
    invalid_header,
    kept_headers,
    set_read_timeout,
)
from cronmanager.execution.outcome import ErrorClass, HttpResult
from cronmanager.execution.retry import parse_retry_after
from cronmanager.execution.ssrf import TargetRefused, refuse_literal, split_target

# what sending one hop may raise besides network trouble: a refused address, a URL that cannot be encoded
_SEND_ERRORS = (TargetRefused, UnicodeError, *NETWORK_ERRORS)
PREPARED_KEPT = 1024  # distinct requests kept prepared; past that the cache starts again
PREPARED_BODY_MAX = 16 * 1024  # larger bodies are prepared every time (1,024 of them would hold 16 MiB at most)


class _Deadline(Exception):
    """Overall deadline passed while streaming the body."""


class _Failed(Exception):
    """A step of `HttpClient._request` ends the request with this failure (never seen outside it)."""

    def __init__(self, failure: Failure, status_code: int | None = None) -> None:
        super().__init__(failure[0])
        self.failure = failure
        self.status_code = status_code


@dataclass(frozen=True, slots=True)
class _Clock:
    """The one deadline every hop and every body read of a request shares."""

    start: float
    timeout_s: float

    def remaining(self) -> float:
        return self.start + self.timeout_s - time.monotonic()


@dataclass(slots=True)
class _Outgoing:
    """The request as the next hop sends it; a followed redirect rewrites it."""

    method: str
    url: str
    params: dict[str, str] | None
    headers: dict[str, str]
    data: bytes | None
    varying: tuple[str, ...] = ()  # names of headers that differ on every call: kept out of the prepared copy's key
    reuse: bool = False  # the caller sends this request again (a job's): its preparation is kept


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
        self._prepared_once: dict[tuple[object, ...], requests.PreparedRequest] = {}
        self._session = http_transport.new_session(allow_private=allow_private, pool_size=pool_size,
                                                   user_agent=user_agent)

    # -- lifecycle -------------------------------------------------------- #
    def close(self) -> None:
        """Close pooled connections; further requests raise RuntimeError."""
        with self._lock:
            self._closed = True
            self._session.close()

    def close_idle(self, idle_s: float = http_transport.IDLE_CONNECTION_S) -> int:
        """Close pooled connections unused for `idle_s`; returns how many. Their slots stay, so a later request
        reconnects.

        The pool keeps a connection for every request that was ever in flight at once, and a burst of
        same-second fires opens one per fire: without this, a worker holds its busiest moment's sockets to every
        target for good (the soak saw them creep with each new peak), and a target or a NAT that silently drops
        an old connection fails the next fire that reuses it.
        """
        return http_transport.close_idle(self._session, idle_s)

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
        call_headers: dict[str, str] | None = None,
        prepare_once: bool = False,
    ) -> HttpResult:
        """Send one request and always return an HttpResult for network-level problems.

        With ``details`` the result carries the forensic record: the request as sent (secrets masked),
        per-phase timings and the address connected to. ``cancellation`` lets another thread close the
        connection; the result then says ``replaced``. ``prepare_once``: the caller sends this request again (a
        job's, every fire), so its preparation is kept and copied; ``call_headers`` differ on every call (a fire's
        id and time) and are added to the copy, after ``headers``. One-off requests (alert deliveries, each with
        its own body and signature) leave ``prepare_once`` off and are not kept.
        """
        with capturing(Capture(cancellation)) as capture:
            result = self._request(method, url, headers=headers, params=params, body=body, json_body=json_body,
                                   timeout_s=timeout_s, expected_status=expected_status,
                                   follow_redirects=follow_redirects, capture=capture, call_headers=call_headers,
                                   prepare_once=prepare_once)
        if capture.cancelled:
            result = replace(result, ok=False, error=REPLACED, error_class=ErrorClass.REPLACED, transient=False)
        if not details:
            return result
        return replace(result, request=capture.request_record(), timings=capture.timings(result.elapsed_ms),
                       remote_addr=capture.remote_addr)

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
        capture: Capture,
        call_headers: dict[str, str] | None = None,
        prepare_once: bool = False,
    ) -> HttpResult:
        """Send one request and always return an HttpResult for network-level problems.

        Raises ValueError only for programming errors (unknown method, both
        ``body`` and ``json_body``, non-positive timeout, unserialisable JSON).
        ``expected_status=None`` means any 2xx is ok.  Redirects are reported
        as-is unless ``follow_redirects`` (max 5 hops, each re-checked).
        """
        method_u = self._checked_call(method, body, json_body, timeout_s)
        clock = _Clock(time.monotonic(), timeout_s)
        out = _outgoing(method_u, url, headers, params, body, json_body, call_headers, prepare_once)
        try:
            bad_header = invalid_header(out.headers)
            if bad_header is not None:
                raise _Failed((bad_header, ErrorClass.INVALID_REQUEST, False))
            for hop in range(MAX_REDIRECTS + 1):
                resp, target = self._send(out, clock, capture)
                if not (follow_redirects and resp.is_redirect):
                    return self._finish(resp, clock, expected_status, target[1])
                out = self._redirected(out, resp, target, last_hop=hop == MAX_REDIRECTS)
        except _Failed as failed:
            return _failure(clock, failed)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- the steps of one request ----------------------------------------- #
    def _checked_call(self, method: str, body: str | None, json_body: object | None, timeout_s: float) -> str:
        """The method, upper-cased; ValueError for a call that is a programming error, RuntimeError once closed."""
        method_u = str(method).upper()
        if method_u not in ALLOWED_METHODS:
            raise ValueError(f"Unsupported HTTP method {method!r}")
        if body is not None and json_body is not None:
            raise ValueError("Pass either body or json_body, not both")
        if not timeout_s or timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")
        if self._closed:
            raise RuntimeError("HttpClient is closed")
        return method_u

    def _send(self, out: _Outgoing, clock: _Clock, capture: Capture) -> tuple[requests.Response, tuple[str, str, int]]:
        """One hop: the target checked (address literal, time left, cancellation), the request sent and the
        response's head read (`_finish` streams the body). Returns the response and the (scheme, host, port)."""
        try:
            target = split_target(out.url)
            if not self.allow_private:
                refuse_literal(target[1])
        except TargetRefused as exc:
            raise _Failed((str(exc), exc.error_class, False)) from None
        remaining = clock.remaining()
        if remaining <= 0:
            raise _Failed(timed_out(clock.timeout_s))
        if capture.cancelled:
            raise _Failed((REPLACED, ErrorClass.REPLACED, False))
        try:
            capture.prepared = None
            capture.phases.clear()
            hop_started = time.monotonic()
            capture.prepared = self._prepared(out)
            resp = self._session.send(capture.prepared, timeout=(remaining, remaining), allow_redirects=False,
                                      stream=True, verify=True, proxies={})
            capture.phases["ttfb"] = ms_since(hop_started)
        except _SEND_ERRORS as exc:
            raise _Failed(classify(exc, target[1], clock.timeout_s)) from None
        return resp, target

    def _prepared(self, out: _Outgoing) -> requests.PreparedRequest:
        """A copy of the request prepared once for these exact settings: a job sends the same request every fire,
        and preparing it (URL parsing and encoding, the headers' merge) was a tenth of a worker's cost of a fire.
        Each fire gets its own copy: the tracing instrumentation adds its header to the one it sends."""
        fixed = {k: v for k, v in out.headers.items() if k not in out.varying} if out.varying else out.headers
        keep = out.reuse and len(out.data or b"") <= PREPARED_BODY_MAX
        key = (out.method, out.url, tuple(out.params.items()) if out.params else None, tuple(fixed.items()), out.data)
        prepared = self._prepared_once.get(key) if keep else None
        if prepared is None:
            # the session's settings hold only its default headers (no cookies, auth or params: http_transport),
            # so the request is prepared from those directly; Session.prepare_request's generic merge of every
            # setting was a tenth of a worker's cost of a fire
            headers = CaseInsensitiveDict(self._session.headers)
            headers.update(fixed)
            # not Request(...).prepare(): Request turns params=None into {}, whose encoding starts with an
            # isinstance check against a typing Protocol, a thirtieth of a worker's cost of a fire
            prepared = requests.PreparedRequest()
            prepared.prepare(method=out.method, url=out.url, headers=headers, params=out.params, data=out.data)
            if keep:
                if len(self._prepared_once) >= PREPARED_KEPT:
                    self._prepared_once.clear()
                self._prepared_once[key] = prepared
        sent = prepared.copy()
        for name in out.varying:  # checked with the others by invalid_header before the first hop
            sent.headers[name] = out.headers[name]
        return sent

    def _redirected(self, out: _Outgoing, resp: requests.Response, target: tuple[str, str, int],
                    last_hop: bool) -> _Outgoing:
        """The next hop after a redirect: 303 (and 301/302 after a POST) becomes a GET without a body, credentials
        stay behind on another origin; `_send` checks the new target again."""
        location = self._session.get_redirect_target(resp)
        next_url = urljoin(resp.url, location) if location else None
        resp.close()
        status = resp.status_code
        if last_hop:
            raise _Failed((f"Too many redirects (more than {MAX_REDIRECTS})", ErrorClass.REDIRECT, False), status)
        assert next_url is not None  # is_redirect implies a Location header
        method, headers, data = out.method, out.headers, out.data
        if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
            method, data = "GET", None
            headers = {k: v for k, v in headers.items() if k.lower() not in ("content-type", "content-length")}
        try:
            next_target = split_target(next_url)
        except TargetRefused as exc:
            raise _Failed((f"Redirect refused: {exc}", exc.error_class, False), status) from None
        if next_target != target:
            headers = {k: v for k, v in headers.items() if k.lower() not in SENSITIVE_ON_CROSS_ORIGIN}
        # params: already part of the redirect target
        return _Outgoing(method, next_url, None, headers, data, tuple(k for k in out.varying if k in headers),
                         out.reuse)

    def _finish(self, resp: requests.Response, clock: _Clock, expected_status: Collection[int] | None,
                host: str) -> HttpResult:
        """Stream the body under the byte cap and deadline; build the result."""
        status = resp.status_code
        out_headers = kept_headers(resp.headers)
        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        data, truncated, error = self._read_body(resp, clock, host)
        is_ok = (200 <= status < 300) if expected_status is None else status in expected_status
        if error is None and not is_ok:
            error = status_failure(status, resp.is_redirect)
        return HttpResult(
            ok=is_ok and error is None,
            status_code=status,
            headers=out_headers,
            body=data.decode("utf-8", errors="replace"),
            truncated=truncated,
            elapsed_ms=ms_since(clock.start),
            error=error[0] if error else None,
            error_class=error[1] if error else None,
            transient=error[2] if error else False,
            retry_after_s=retry_after,
        )

    def _read_body(self, resp: requests.Response, clock: _Clock, host: str) -> tuple[bytes, bool, Failure | None]:
        """The body up to `max_body` bytes, whether it was cut, and what ended the read early (if anything)."""
        chunks: list[bytes] = []
        total = 0
        truncated = False
        error: Failure | None = None
        raw = resp.raw
        try:
            while True:
                remaining = clock.remaining()
                if remaining <= 0:
                    raise _Deadline
                set_read_timeout(raw, remaining)
                chunk = raw.read1(min(READ_CHUNK, self.max_body + 1 - total), decode_content=True)
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
                if total > self.max_body:
                    truncated = True
                    break
        except _Deadline:
            error = timed_out(clock.timeout_s)
        except NETWORK_ERRORS as exc:
            error = classify(exc, host, clock.timeout_s)
        finally:
            resp.close()  # fully read -> already back in the pool; otherwise discarded
        return b"".join(chunks)[: self.max_body], truncated, error


def _outgoing(method: str, url: str, headers: dict[str, str] | None, params: dict[str, str] | None,
              body: str | None, json_body: object | None, call_headers: dict[str, str] | None = None,
              reuse: bool = False) -> _Outgoing:
    """The first hop's request, its body encoded (JSON gets its Content-Type unless the caller set one)."""
    req_headers: dict[str, str] = {**(headers or {}), **(call_headers or {})}
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
    return _Outgoing(method, url, params, req_headers, data, tuple(call_headers or ()), reuse)


def _failure(clock: _Clock, failed: _Failed) -> HttpResult:
    message, error_class, transient = failed.failure
    return HttpResult(ok=False, status_code=failed.status_code, headers={}, body="", truncated=False,
                      elapsed_ms=ms_since(clock.start), error=message, error_class=error_class,
                      transient=transient, retry_after_s=None)
