"""The one guarded HTTP client for all outbound requests.

Every user-configured request the scheduler fires goes through
:class:`HttpClient`, so the safety rules live in one place:

* **SSRF guard.** Only ``http``/``https`` URLs are accepted, and unless the
  client was built with ``allow_private=True`` no connection is made to a
  loopback, private, link-local, cloud-metadata, multicast, unspecified or
  otherwise non-public address (including IPv4-mapped / NAT64 / 6to4 /
  Teredo IPv6 forms of those).
* **DNS rebinding.** The address check is done *inside* the connection
  (``_GuardMixin._new_conn``): the host name is resolved once, every
  resolved address is checked, and the socket is then opened to one of
  those checked addresses.  The name is never resolved a second time, so a
  rebinding DNS server cannot hand out a public address to the check and a
  private one to the connect.  TLS SNI, certificate verification and the
  ``Host`` header still use the original host name.  Redirect hops open new
  connections and therefore pass through the same guard.
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

import email.utils
import ipaddress
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import HTTPException
from http.cookiejar import CookiePolicy
from typing import Self
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.response import BaseHTTPResponse
from urllib3.util.connection import allowed_gai_family

__all__ = [
    "ALLOWED_METHODS",
    "MAX_REDIRECTS",
    "HttpClient",
    "HttpResult",
    "TargetRefused",
    "check_url",
    "parse_retry_after",
]

ALLOWED_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"})
MAX_REDIRECTS = 5
MAX_RESPONSE_HEADERS = 50
MAX_HEADER_VALUE = 1024
_READ_CHUNK = 16384
_TRANSIENT_STATUSES = frozenset({408, 425, 429})
_ALLOW_HINT = "(set ALLOW_PRIVATE_TARGETS to allow)"
_HEADER_NAME_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_SENSITIVE_ON_CROSS_ORIGIN = frozenset(
    {"authorization", "cookie", "proxy-authorization"}
)

# Cloud instance-metadata endpoints (AWS/GCP/Azure/OpenStack, AWS IPv6, Alibaba).
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


# --------------------------------------------------------------------------- #
# Result type
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class HttpResult:
    """Outcome of one request; built for logging and retry decisions, never raised."""

    ok: bool  # status in the expected set (any 2xx when none given)
    status_code: int | None  # None when no response was received
    headers: dict[str, str]  # first 50 response headers, values capped at 1 KiB
    body: str  # utf-8 (errors="replace"), at most max_body bytes before decoding
    truncated: bool  # body was longer than max_body
    elapsed_ms: int  # wall time for the whole exchange, redirects included
    error: str | None  # short human-readable message, never contains header values
    error_class: str | None  # see module docstring
    transient: bool  # True if retrying later may help
    retry_after_s: float | None  # parsed Retry-After header, when present


class TargetRefused(ValueError):
    """A URL the client will not contact; ``error_class`` says why (ssrf, invalid_url, dns)."""

    def __init__(self, message: str, error_class: str = "ssrf") -> None:
        super().__init__(message)
        self.error_class = error_class


# --------------------------------------------------------------------------- #
# Address policy
# --------------------------------------------------------------------------- #
def _blocked_reason(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Return why ``ip`` is not a public target ("a private address", ...) or None."""
    if isinstance(ip, ipaddress.IPv6Address):
        # Addresses that embed an IPv4 address are judged by that address.
        embedded: list[ipaddress.IPv4Address] = []
        if ip.ipv4_mapped is not None:
            embedded.append(ip.ipv4_mapped)
        if ip in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip.sixtofour is not None:
            embedded.append(ip.sixtofour)
        if ip.teredo is not None:
            embedded.append(ip.teredo[1])
        for v4 in embedded:
            reason = _blocked_reason(v4)
            if reason:
                return reason
        if ip.ipv4_mapped is not None:
            return None
        if ip.scope_id:
            ip = ipaddress.IPv6Address(ip.compressed.split("%", 1)[0])
    if ip in _METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_loopback or ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "a non-public address"
    return None


def _parse_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _split_target(url: str) -> tuple[str, str, int]:
    """Validate scheme/host/port without touching the network; return (scheme, host, port)."""
    if not isinstance(url, str) or not url.strip():
        raise TargetRefused("URL is empty", "invalid_url")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise TargetRefused("Invalid URL (bad host or port)", "invalid_url") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"{scheme!r}" if scheme else "(none)"
        raise TargetRefused(
            f"Unsupported URL scheme {shown}: only http and https are allowed",
            "invalid_url",
        )
    host = parts.hostname
    if not host:
        raise TargetRefused("URL has no host name", "invalid_url")
    return (
        scheme,
        host,
        port if port is not None else (443 if scheme == "https" else 80),
    )


def _refuse_literal(host: str) -> None:
    """Refuse an IP-literal host that is not public (no DNS involved)."""
    ip = _parse_ip(host)
    if ip is not None:
        reason = _blocked_reason(ip)
        if reason:
            raise TargetRefused(f"Refused: {host} is {reason} {_ALLOW_HINT}")


def _resolve(host: str, port: int, family: int = socket.AF_UNSPEC) -> list[str]:
    """All addresses ``host`` resolves to, de-duplicated, in resolver order."""
    infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for _family, _type, _proto, _canon, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]), None)
    return list(seen)


def _refuse_resolved(host: str, addresses: list[str]) -> None:
    for addr in addresses:
        ip = _parse_ip(addr)
        reason = _blocked_reason(ip) if ip is not None else "an unparseable address"
        if reason:
            if _parse_ip(host) is not None:
                raise TargetRefused(f"Refused: {host} is {reason} {_ALLOW_HINT}")
            raise TargetRefused(
                f"Refused: {host} resolves to {addr}, {reason} {_ALLOW_HINT}"
            )


def check_url(url: str, *, allow_private: bool) -> None:
    """Raise :class:`TargetRefused` unless ``url`` is an http(s) URL we may contact.

    Used to validate job configuration up front; ``HttpClient`` enforces the
    same policy again at connect time (which is what actually stops DNS
    rebinding).  Every A/AAAA record is checked: one private record is enough
    to refuse.  A name that does not resolve raises with ``error_class="dns"``.
    """
    _scheme, host, port = _split_target(url)
    if not allow_private:
        _refuse_literal(host)
    try:
        addresses = _resolve(host, port)
    except (OSError, UnicodeError):
        raise TargetRefused(f"DNS lookup failed for {host}", "dns") from None
    if not allow_private:
        _refuse_resolved(host, addresses)


# --------------------------------------------------------------------------- #
# Connection-level guard (closes the DNS-rebinding window)
# --------------------------------------------------------------------------- #
class _GuardMixin:
    """Resolve once, check every address, connect only to a checked address."""

    _dns_host: str
    port: int

    def _new_conn(self) -> socket.socket:
        name = self._dns_host
        try:
            addresses = _resolve(name, self.port, allowed_gai_family())
        except socket.gaierror as exc:
            raise urllib3.exceptions.NameResolutionError(name, self, exc) from exc  # type: ignore[arg-type]
        _refuse_resolved(name, addresses)
        last_exc: Exception | None = None
        for addr in addresses:
            # Connect to the checked literal.  `host` (SNI, cert check, Host
            # header) derives from _dns_host, so restore it before returning.
            self._dns_host = addr
            try:
                return super()._new_conn()  # type: ignore[misc]
            except (
                urllib3.exceptions.NewConnectionError,
                urllib3.exceptions.ConnectTimeoutError,
            ) as exc:
                last_exc = exc
            finally:
                self._dns_host = name
        assert last_exc is not None  # getaddrinfo never returns an empty list
        raise last_exc


class _GuardedHTTPConnection(_GuardMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardMixin, HTTPSConnection):
    pass


class _GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    """HTTPAdapter whose pools open connections only to SSRF-checked addresses."""

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPConnectionPool,
            "https": _GuardedHTTPSConnectionPool,
        }


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
# Retry-After
# --------------------------------------------------------------------------- #
def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date).

    Returns None for a missing/unparseable value; a date in the past gives 0.0.
    ``now`` is injectable for tests (naive datetimes are taken as UTC).
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


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


def _classify(exc: BaseException, host: str, timeout_s: float) -> tuple[str, str, bool]:
    """Map an exception to (message, error_class, transient) without leaking secrets."""
    chain = list(_exc_chain(exc))

    def find(*types: type[BaseException]) -> BaseException | None:
        return next((e for e in chain if isinstance(e, types)), None)

    if (refused := find(TargetRefused)) is not None:
        return str(refused), refused.error_class, False  # type: ignore[attr-defined]
    if find(urllib3.exceptions.NameResolutionError, socket.gaierror) is not None:
        gai = find(socket.gaierror)
        transient = getattr(gai, "errno", None) == socket.EAI_AGAIN
        return f"DNS lookup failed for {host}", "dns", transient
    # NB: urllib3's NewConnectionError subclasses ConnectTimeoutError, so a
    # refused connection must not be mistaken for a timeout.
    if any(_is_timeout(e) for e in chain):
        return f"Timed out after {_fmt_seconds(timeout_s)} s", "timeout", True
    if find(requests.exceptions.SSLError, urllib3.exceptions.SSLError, ssl.SSLError):
        ssl_exc = find(ssl.SSLError)
        detail = ""
        if isinstance(ssl_exc, ssl.SSLCertVerificationError) and ssl_exc.verify_message:
            detail = f"certificate verify failed: {ssl_exc.verify_message}"
        elif isinstance(ssl_exc, ssl.SSLError):
            detail = (
                (ssl_exc.reason or ssl_exc.strerror or "").replace("_", " ").lower()
            )
        return (f"TLS error: {detail}" if detail else "TLS error"), "tls", False
    if find(ConnectionRefusedError) is not None:
        return "Connection refused", "connection", True
    if find(ConnectionResetError, ConnectionAbortedError, BrokenPipeError) is not None:
        return "Connection reset by peer", "connection", True
    if find(urllib3.exceptions.DecodeError, requests.exceptions.ContentDecodingError):
        return "Could not decode response body (Content-Encoding)", "protocol", False
    if find(
        urllib3.exceptions.LocationParseError,
        requests.exceptions.InvalidURL,
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidSchema,
    ):
        return "Invalid URL", "invalid_url", False
    if find(
        urllib3.exceptions.IncompleteRead, requests.exceptions.ChunkedEncodingError
    ):
        return "Connection broken while reading the response", "connection", True
    if find(HTTPException, urllib3.exceptions.HeaderParsingError) is not None:
        return "Invalid HTTP response from server", "protocol", False
    oserr = next((e for e in chain if isinstance(e, OSError) and e.strerror), None)
    if oserr is not None:
        return f"Connection failed: {oserr.strerror}", "connection", True
    return f"Request failed ({type(exc).__name__})", "connection", True


# --------------------------------------------------------------------------- #
# Client
# --------------------------------------------------------------------------- #
class _Deadline(Exception):
    """Overall deadline passed while streaming the body."""


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
        adapter_cls = HTTPAdapter if allow_private else _GuardedAdapter
        for prefix in ("http://", "https://"):
            session.mount(
                prefix,
                adapter_cls(
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
            message: str, error_class: str, transient: bool, **extra: object
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
            return fail(bad_header, "invalid_request", False)

        host = ""
        current_url = url
        current_params: dict[str, str] | None = params
        for hop in range(MAX_REDIRECTS + 1):
            try:
                scheme, host, port = _split_target(current_url)
                if not self.allow_private:
                    _refuse_literal(host)
            except TargetRefused as exc:
                return fail(str(exc), exc.error_class, False)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return fail(
                    f"Timed out after {_fmt_seconds(timeout_s)} s", "timeout", True
                )
            try:
                resp = self._session.request(
                    method_u,
                    current_url,
                    headers=req_headers,
                    params=current_params,
                    data=data,
                    timeout=(remaining, remaining),
                    allow_redirects=False,
                    stream=True,
                    verify=True,
                    proxies={},
                )
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
                        "redirect",
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
                    n_scheme, n_host, n_port = _split_target(next_url)
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
        error: tuple[str, str, bool] | None = None
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
            error = (f"Timed out after {_fmt_seconds(timeout_s)} s", "timeout", True)
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
            error = (f"HTTP {status}{hint}", "http_status", transient)
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
