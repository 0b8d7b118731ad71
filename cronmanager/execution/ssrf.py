"""SSRF guard: which addresses a user-configured request may reach, checked again inside every connection.

* Only ``http``/``https`` URLs are accepted, and unless ``allow_private`` no connection is made to a
  loopback, private, link-local, cloud-metadata, multicast, unspecified or otherwise non-public address
  (including IPv4-mapped / NAT64 / 6to4 / Teredo IPv6 forms of those).
* DNS rebinding: the check is done *inside* the connection (``_GuardMixin._new_conn``): the host name is
  resolved once, every resolved address is checked, and the socket is then opened to one of those checked
  addresses. The name is never resolved a second time, so a rebinding DNS server cannot hand a public address
  to the check and a private one to the connect. TLS SNI, certificate verification and the ``Host`` header
  still use the original host name. Redirect hops open new connections and pass through the same guard.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.connection import allowed_gai_family

from cronmanager.execution.outcome import ErrorClass

ALLOW_HINT = "(set ALLOW_PRIVATE_TARGETS to allow)"
# Cloud instance-metadata endpoints (AWS/GCP/Azure/OpenStack, AWS IPv6, Alibaba).
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")



class TargetRefused(ValueError):
    """A URL the client will not contact; ``error_class`` says why (ssrf, invalid_url, dns)."""

    def __init__(self, message: str, error_class: ErrorClass = ErrorClass.SSRF) -> None:
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


def split_target(url: str) -> tuple[str, str, int]:
    """Validate scheme/host/port without touching the network; return (scheme, host, port)."""
    if not isinstance(url, str) or not url.strip():
        raise TargetRefused("URL is empty", ErrorClass.INVALID_URL)
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise TargetRefused("Invalid URL (bad host or port)", ErrorClass.INVALID_URL) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"{scheme!r}" if scheme else "(none)"
        raise TargetRefused(
            f"Unsupported URL scheme {shown}: only http and https are allowed",
            ErrorClass.INVALID_URL,
        )
    host = parts.hostname
    if not host:
        raise TargetRefused("URL has no host name", ErrorClass.INVALID_URL)
    return (
        scheme,
        host,
        port if port is not None else (443 if scheme == "https" else 80),
    )


def refuse_literal(host: str) -> None:
    """Refuse an IP-literal host that is not public (no DNS involved)."""
    ip = _parse_ip(host)
    if ip is not None:
        reason = _blocked_reason(ip)
        if reason:
            raise TargetRefused(f"Refused: {host} is {reason} {ALLOW_HINT}")


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
                raise TargetRefused(f"Refused: {host} is {reason} {ALLOW_HINT}")
            raise TargetRefused(
                f"Refused: {host} resolves to {addr}, {reason} {ALLOW_HINT}"
            )


def check_url(url: str, *, allow_private: bool) -> None:
    """Raise :class:`TargetRefused` unless ``url`` is an http(s) URL we may contact.

    Used to validate job configuration up front; ``HttpClient`` enforces the
    same policy again at connect time (which is what actually stops DNS
    rebinding).  Every A/AAAA record is checked: one private record is enough
    to refuse.  A name that does not resolve raises with ``error_class="dns"``.
    """
    _scheme, host, port = split_target(url)
    if not allow_private:
        refuse_literal(host)
    try:
        addresses = _resolve(host, port)
    except (OSError, UnicodeError):
        raise TargetRefused(f"DNS lookup failed for {host}", ErrorClass.DNS) from None
    if not allow_private:
        _refuse_resolved(host, addresses)


# --------------------------------------------------------------------------- #
# Connection-level guard (closes the DNS-rebinding window)
# --------------------------------------------------------------------------- #
class GuardMixin:
    """Resolve once, check every address, connect only to a checked address.

    `check_addresses = False` (ALLOW_PRIVATE_TARGETS) keeps the single resolution and the per-phase hooks but
    skips the policy. `_phase(name, started, sock)` is called after DNS and after the TCP connect, failed or not
    (a no-op here; the HTTP client records timings and the connected socket with it).
    """

    check_addresses = True
    _dns_host: str
    port: int

    def _phase(self, name: str, started: float, sock: socket.socket | None = None) -> None:
        pass

    def _new_conn(self) -> socket.socket:
        name = self._dns_host
        started = time.monotonic()
        try:
            addresses = _resolve(name, self.port, allowed_gai_family())
        except socket.gaierror as exc:
            self._phase("dns", started)
            raise urllib3.exceptions.NameResolutionError(name, self, exc) from exc  # type: ignore[arg-type]  # mixin
        if _parse_ip(name) is None:
            self._phase("dns", started)
        if self.check_addresses:
            _refuse_resolved(name, addresses)
        last_exc: Exception | None = None
        started = time.monotonic()
        for addr in addresses:
            # Connect to the checked literal.  `host` (SNI, cert check, Host
            # header) derives from _dns_host, so restore it before returning.
            self._dns_host = addr
            try:
                sock: socket.socket = super()._new_conn()  # type: ignore[misc]  # mixin: HTTPConnection's
                self._phase("connect", started, sock)
                return sock
            except (
                urllib3.exceptions.NewConnectionError,
                urllib3.exceptions.ConnectTimeoutError,
            ) as exc:
                last_exc = exc
            finally:
                self._dns_host = name
        assert last_exc is not None  # getaddrinfo never returns an empty list
        self._phase("connect", started)
        raise last_exc


class GuardedHTTPConnection(GuardMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(GuardMixin, HTTPSConnection):
    pass


class GuardedAdapter(HTTPAdapter):
    """HTTPAdapter whose pools open connections only through `connection_classes` (guarded by default)."""

    def __init__(self, *args: Any, connection_classes: tuple[type[HTTPConnection], type[HTTPSConnection]] = (
            GuardedHTTPConnection, GuardedHTTPSConnection), **kwargs: Any) -> None:
        self._connection_classes = connection_classes
        super().__init__(*args, **kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        http_cls, https_cls = self._connection_classes
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("GuardedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_cls}),
            "https": type("GuardedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_cls}),
        }
