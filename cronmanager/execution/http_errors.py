"""What went wrong with an outbound request, as a short message and an `error_class` that never leak secrets.

Messages never include header values or the full URL (either may carry secrets), only the host name.

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
``"replaced"``            cancelled for a newer fire              no
``"assertion"``           a response assertion failed             yes
                          (set by execution/assertions.py)
========================  ======================================  =========

Truncation at ``max_body`` is *not* an error: the result keeps its status
based ``ok`` and sets ``truncated=True``.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from http.client import HTTPException
from typing import TypeVar

import requests
import urllib3.exceptions

from cronmanager.execution.outcome import ErrorClass
from cronmanager.execution.ssrf import TargetRefused

REPLACED = "Replaced by a newer fire (concurrency policy replace)"
TRANSIENT_STATUSES = frozenset({408, 425, 429})
# what sending or reading may raise for network trouble: classified, never propagated
NETWORK_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, HTTPException, OSError)

Failure = tuple[str, ErrorClass, bool]  # (message, error_class, transient)
E = TypeVar("E", bound=BaseException)


def timed_out(timeout_s: float) -> Failure:
    return f"Timed out after {_fmt_seconds(timeout_s)} s", ErrorClass.TIMEOUT, True


def status_failure(status: int, redirect: bool) -> Failure:
    """A status outside the expected set: 5xx and 408/425/429 may pass on a retry."""
    hint = " (redirect not followed)" if redirect else ""
    return f"HTTP {status}{hint}", ErrorClass.HTTP_STATUS, status >= 500 or status in TRANSIENT_STATUSES


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


def classify(exc: BaseException, host: str, timeout_s: float) -> Failure:
    """Map an exception to (message, error_class, transient) without leaking secrets."""
    chain = list(_exc_chain(exc))

    def find(*types: type[E]) -> E | None:
        return next((e for e in chain if isinstance(e, types)), None)

    if (refused := find(TargetRefused)) is not None:
        return str(refused), refused.error_class, False
    if find(urllib3.exceptions.NameResolutionError, socket.gaierror) is not None:
        gai = find(socket.gaierror)
        transient = getattr(gai, "errno", None) == socket.EAI_AGAIN
        return f"DNS lookup failed for {host}", ErrorClass.DNS, transient
    # NB: urllib3's NewConnectionError subclasses ConnectTimeoutError, so a
    # refused connection must not be mistaken for a timeout.
    if any(_is_timeout(e) for e in chain):
        return timed_out(timeout_s)
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
