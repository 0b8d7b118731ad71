"""Tests for the guarded outbound HTTP client, against a real local HTTP server."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from cronmanager.execution import http_client, http_limits, ssrf
from cronmanager.execution.http_client import HttpClient
from cronmanager.execution.outcome import HttpResult
from cronmanager.execution.retry import parse_retry_after
from cronmanager.execution.ssrf import TargetRefused, check_url
from tests.helpers import self_signed_cert


# --------------------------------------------------------------------------- #
# Test server
# --------------------------------------------------------------------------- #
class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # 50 concurrent connects must not overflow the backlog

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits = 0
        self.client_ports: set[int] = set()
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so pooling is observable
    server: _Server

    def log_message(self, fmt: str, *args: object) -> None:
        pass

    def _send(
        self, status: int, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        with self.server.lock:
            self.server.hits += 1
            self.server.client_ports.add(self.client_address[1])
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        length = int(self.headers.get("Content-Length") or 0)
        req_body = self.rfile.read(length) if length else b""
        stop = self.server.stopping

        if path == "/ok":
            self._send(200, b"hello", {"Content-Type": "text/plain", "X-Test": "yes"})
        elif path == "/echo":
            payload = {
                "method": self.command,
                "path": path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "query": {k: v[0] for k, v in query.items()},
                "body": req_body.decode("utf-8", "replace"),
            }
            self._send(
                200, json.dumps(payload).encode(), {"Content-Type": "application/json"}
            )
        elif path.startswith("/status/"):
            self._send(int(path.rsplit("/", 1)[1]), b"status body")
        elif path == "/slow":
            stop.wait(int(query.get("ms", ["1000"])[0]) / 1000)
            self._send(200, b"slow done")
        elif path == "/big":
            self._send(200, b"x" * 1_000_000)
        elif path == "/drip":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            try:
                for _ in range(100):  # ~5 s in total if the client never gives up
                    self.wfile.write(b"d")
                    self.wfile.flush()
                    if stop.wait(0.05):
                        break
            except OSError:
                pass  # client hung up: that is the point of the test
            self.close_connection = True
        elif path == "/redirect":
            target = query.get("to", ["/ok"])[0]
            code = int(query.get("code", ["302"])[0])
            self._send(code, b"", {"Location": target})
        elif path == "/loop":
            self._send(302, b"", {"Location": "/loop"})
        elif path == "/retry-after":
            self._send(503, b"busy", {"Retry-After": "7"})
        elif path == "/many-headers":
            self.send_response(200)
            for i in range(80):
                self.send_header(f"X-H{i}", "v" * 2000)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/set-cookie":
            self._send(200, b"", {"Set-Cookie": "sid=abc; Path=/"})
        elif path == "/utf8":
            self._send(200, "héllo wörld".encode())
        else:
            self._send(404, b"not found")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.stopping.set()
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


@pytest.fixture
def client() -> Iterator[HttpClient]:
    c = HttpClient(allow_private=True)
    yield c
    c.close()


@pytest.fixture
def guarded() -> Iterator[HttpClient]:
    c = HttpClient(allow_private=False)
    yield c
    c.close()


def _hits(server: _Server) -> int:
    with server.lock:
        return server.hits


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _fake_dns(monkeypatch: pytest.MonkeyPatch, mapping: dict[str, list[str]]) -> None:
    """Make socket.getaddrinfo answer for the given names; everything else is real."""
    real = socket.getaddrinfo

    def fake(host, port, family=0, socktype=0, proto=0, flags=0):
        if host in mapping:
            out = []
            for addr in mapping[host]:
                if ":" in addr:
                    out.append(
                        (
                            socket.AF_INET6,
                            socket.SOCK_STREAM,
                            6,
                            "",
                            (addr, port or 0, 0, 0),
                        )
                    )
                else:
                    out.append(
                        (socket.AF_INET, socket.SOCK_STREAM, 6, "", (addr, port or 0))
                    )
            return out
        return real(host, port, family, socktype, proto, flags)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


# --------------------------------------------------------------------------- #
# Basic request/response
# --------------------------------------------------------------------------- #
def test_it_returns_ok_for_2xx(client: HttpClient, server: _Server) -> None:
    r = client.request("GET", f"{server.base}/ok")
    assert isinstance(r, HttpResult)
    assert r.ok and r.status_code == 200
    assert r.body == "hello"
    assert r.headers["X-Test"] == "yes"
    assert r.error is None and r.error_class is None
    assert not r.transient and not r.truncated
    assert r.retry_after_s is None
    assert r.elapsed_ms >= 0


def test_it_sends_method_headers_params_and_json(
    client: HttpClient, server: _Server
) -> None:
    r = client.request(
        "post",
        f"{server.base}/echo",
        headers={"X-Token": "s3cret"},
        params={"a": "1", "b": "two words"},
        json_body={"k": [1, 2]},
    )
    assert r.ok
    echo = json.loads(r.body)
    assert echo["method"] == "POST"
    assert echo["headers"]["x-token"] == "s3cret"
    assert echo["headers"]["content-type"] == "application/json"
    assert echo["headers"]["user-agent"] == "CronManager/1.0"
    assert echo["query"] == {"a": "1", "b": "two words"}
    assert json.loads(echo["body"]) == {"k": [1, 2]}


def test_a_repeated_request_is_prepared_once_and_a_changed_one_anew(
    client: HttpClient, server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepared: list[str] = []
    real = requests.PreparedRequest.prepare

    def counting(self: requests.PreparedRequest, *args: object, **kwargs: object) -> None:
        prepared.append(str(kwargs.get("url")))
        real(self, *args, **kwargs)

    monkeypatch.setattr(requests.PreparedRequest, "prepare", counting)
    url = f"{server.base}/echo"
    first, again = (client.request("post", url, headers={"X-Token": "a"}, params={"p": "1"}, body="b",
                                   call_headers={"X-Call": str(n)}, prepare_once=True) for n in range(2))
    changed = [client.request("post", url, headers={"X-Token": "z"}, params={"p": "1"}, body="b", prepare_once=True),
               client.request("post", url, headers={"X-Token": "a"}, params={"p": "2"}, body="b", prepare_once=True),
               client.request("post", url, headers={"X-Token": "a"}, params={"p": "1"}, body="c", prepare_once=True),
               client.request("put", url, headers={"X-Token": "a"}, params={"p": "1"}, body="b", prepare_once=True)]
    assert len(prepared) == 1 + len(changed)
    once = [client.request("post", url, body="d") for _ in range(2)]  # one-off requests (alerts): never kept
    big = [client.request("post", url, body="e" * (http_client.PREPARED_BODY_MAX + 1), prepare_once=True)
           for _ in range(2)]
    assert all(r.ok for r in once + big) and len(prepared) == 1 + len(changed) + 4
    echoes = [json.loads(r.body) for r in (first, again, *changed)]
    assert [e["headers"].pop("x-call") for e in echoes[:2]] == ["0", "1"]  # a call's own headers: no new preparation
    assert echoes[0] == echoes[1]
    assert [(e["method"], e["headers"]["x-token"], e["query"], e["body"]) for e in echoes[2:]] == [
        ("POST", "z", {"p": "1"}, "b"), ("POST", "a", {"p": "2"}, "b"), ("POST", "a", {"p": "1"}, "c"),
        ("PUT", "a", {"p": "1"}, "b")]
    assert again.request is not None and first.request is not None
    assert again.request.headers == {**first.request.headers, "X-Call": "1"}


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_it_sends_raw_body_as_utf8(
    client: HttpClient, server: _Server, method: str
) -> None:
    r = client.request(
        method,
        f"{server.base}/echo",
        body="naïve=1",
        headers={"Content-Type": "text/plain"},
    )
    echo = json.loads(r.body)
    assert echo["method"] == method
    assert echo["body"] == "naïve=1"
    assert echo["headers"]["content-type"] == "text/plain"


def test_it_supports_head_and_custom_user_agent(server: _Server) -> None:
    with HttpClient(allow_private=True, user_agent="Probe/2") as c:
        assert c.request("HEAD", f"{server.base}/ok").status_code == 200
        echo = json.loads(c.request("GET", f"{server.base}/echo").body)
    assert echo["headers"]["user-agent"] == "Probe/2"


def test_it_decodes_utf8_body(client: HttpClient, server: _Server) -> None:
    assert client.request("GET", f"{server.base}/utf8").body == "héllo wörld"


def test_it_rejects_unknown_method_and_ambiguous_body(
    client: HttpClient, server: _Server
) -> None:
    with pytest.raises(ValueError):
        client.request("TRACE", f"{server.base}/ok")
    with pytest.raises(ValueError):
        client.request("POST", f"{server.base}/ok", body="a", json_body={"a": 1})


def test_it_reports_bad_header_without_its_value(
    client: HttpClient, server: _Server
) -> None:
    before = _hits(server)
    r = client.request(
        "GET", f"{server.base}/ok", headers={"X-Token": "s3cret\r\nEvil: 1"}
    )
    assert not r.ok and r.error_class == "invalid_request"
    assert "X-Token" in (r.error or "") and "s3cret" not in (r.error or "")
    assert _hits(server) == before


# --------------------------------------------------------------------------- #
# Status handling
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("status", "transient"),
    [
        (400, False),
        (401, False),
        (404, False),
        (408, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
    ],
)
def test_it_reports_error_statuses(
    client: HttpClient, server: _Server, status: int, transient: bool
) -> None:
    r = client.request("GET", f"{server.base}/status/{status}")
    assert not r.ok
    assert r.status_code == status
    assert r.error == f"HTTP {status}"
    assert r.error_class == "http_status"
    assert r.transient is transient
    assert r.body == "status body"


def test_it_honours_expected_status(client: HttpClient, server: _Server) -> None:
    r = client.request("GET", f"{server.base}/status/404", expected_status={404})
    assert r.ok and r.error is None and not r.transient
    r = client.request("GET", f"{server.base}/ok", expected_status=[201])
    assert not r.ok and r.error == "HTTP 200"


def test_it_parses_retry_after_from_response(
    client: HttpClient, server: _Server
) -> None:
    r = client.request("GET", f"{server.base}/retry-after")
    assert r.status_code == 503 and not r.ok and r.transient
    assert r.retry_after_s == 7.0


def test_it_caps_response_headers(client: HttpClient, server: _Server) -> None:
    r = client.request("GET", f"{server.base}/many-headers")
    assert len(r.headers) == http_limits.MAX_RESPONSE_HEADERS
    assert all(len(v) <= http_limits.MAX_HEADER_VALUE for v in r.headers.values())


# --------------------------------------------------------------------------- #
# Network failures
# --------------------------------------------------------------------------- #
def test_it_times_out_without_leaking_headers(
    client: HttpClient, server: _Server
) -> None:
    t0 = time.monotonic()
    r = client.request(
        "GET",
        f"{server.base}/slow?ms=2000",
        timeout_s=0.3,
        headers={"Authorization": "Bearer s3cret"},
    )
    elapsed = time.monotonic() - t0
    assert not r.ok and r.status_code is None
    assert r.error_class == "timeout" and r.transient
    assert r.error == "Timed out after 0.3 s"
    assert "s3cret" not in (r.error or "")
    assert elapsed < 1.5


def test_it_reports_connection_refused(client: HttpClient) -> None:
    r = client.request("GET", f"http://127.0.0.1:{_free_port()}/", timeout_s=5)
    assert not r.ok and r.status_code is None
    assert r.error == "Connection refused"
    assert r.error_class == "connection" and r.transient


@pytest.mark.parametrize("allow_private", [True, False])
def test_it_reports_dns_failure(allow_private: bool) -> None:
    with HttpClient(allow_private=allow_private) as c:
        r = c.request("GET", "http://nosuch.invalid/path", timeout_s=5)
    assert not r.ok and r.status_code is None
    assert r.error_class == "dns"
    assert r.error == "DNS lookup failed for nosuch.invalid"


def test_it_reports_invalid_urls(client: HttpClient) -> None:
    for url in (
        "ftp://example.com/",
        "file:///etc/passwd",
        "http:///nohost",
        "not a url",
        "http://h:99999/",
    ):
        r = client.request("GET", url)
        assert not r.ok and r.error_class == "invalid_url" and not r.transient, url


# --------------------------------------------------------------------------- #
# SSRF guard
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "10.0.0.1",
        "169.254.169.254",
        "[::1]",
        "0.0.0.0",
        "[::ffff:127.0.0.1]",
    ],
)
def test_it_refuses_private_targets(
    guarded: HttpClient, server: _Server, host: str
) -> None:
    port = server.server_address[1]
    before = _hits(server)
    r = guarded.request("GET", f"http://{host}:{port}/ok", timeout_s=5)
    assert not r.ok and r.status_code is None
    assert r.error_class == "ssrf" and not r.transient
    assert "ALLOW_PRIVATE_TARGETS" in (r.error or "")
    assert _hits(server) == before


def test_it_formats_ssrf_message(guarded: HttpClient) -> None:
    r = guarded.request("GET", "http://127.0.0.1/")
    assert (
        r.error
        == "Refused: 127.0.0.1 is a private address (set ALLOW_PRIVATE_TARGETS to allow)"
    )


def test_it_checks_resolved_addresses_at_connect_time(
    guarded: HttpClient, server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A name that resolves to loopback (as a rebinding DNS server would answer
    # at connect time) is refused by the connection-level guard.
    _fake_dns(monkeypatch, {"rebind.example": ["127.0.0.1"]})
    before = _hits(server)
    r = guarded.request("GET", f"http://rebind.example:{server.server_address[1]}/ok")
    assert r.error_class == "ssrf"
    assert r.error == (
        "Refused: rebind.example resolves to 127.0.0.1, a private address (set ALLOW_PRIVATE_TARGETS to allow)"
    )
    assert _hits(server) == before


def test_it_connects_to_the_checked_address_with_original_host(
    guarded: HttpClient, server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Treat 127.0.0.1 as public so a guarded client can reach the test server
    # through a name: the Host header must still carry the name.
    real = ssrf._blocked_reason
    monkeypatch.setattr(
        ssrf,
        "_blocked_reason",
        lambda ip: None if str(ip) == "127.0.0.1" else real(ip),
    )
    _fake_dns(monkeypatch, {"public.example": ["127.0.0.1"]})
    port = server.server_address[1]
    r = guarded.request("GET", f"http://public.example:{port}/echo")
    assert r.ok, r.error
    assert json.loads(r.body)["headers"]["host"] == f"public.example:{port}"


def test_it_rechecks_every_redirect_hop(
    guarded: HttpClient, server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ssrf._blocked_reason
    monkeypatch.setattr(
        ssrf,
        "_blocked_reason",
        lambda ip: None if str(ip) == "127.0.0.1" else real(ip),
    )
    before = _hits(server)
    r = guarded.request(
        "GET",
        f"{server.base}/redirect?to=http://169.254.169.254/latest/meta-data/",
        follow_redirects=True,
    )
    assert r.error_class == "ssrf"
    assert "cloud metadata" in (r.error or "")
    assert _hits(server) == before + 1  # only the first hop reached a server


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost/",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://169.254.169.254/latest",
        "http://[fd00:ec2::254]/",
        "http://[::1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://[64:ff9b::7f00:1]/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
        "http://[::]/",
        "http://224.0.0.1/",
        "http://2130706433/",  # decimal 127.0.0.1, resolved by getaddrinfo
    ],
)
def test_it_check_url_refuses_blocked_addresses(url: str) -> None:
    with pytest.raises(TargetRefused) as info:
        check_url(url, allow_private=False)
    assert info.value.error_class == "ssrf"
    assert isinstance(info.value, ValueError)
    check_url(url, allow_private=True)  # allowed when private targets are enabled


def test_it_check_url_refuses_if_any_record_is_private(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake_dns(
        monkeypatch,
        {
            "mixed.example": ["93.184.216.34", "10.1.2.3"],
            "pub.example": ["93.184.216.34"],
        },
    )
    with pytest.raises(TargetRefused, match="10.1.2.3"):
        check_url("https://mixed.example/", allow_private=False)
    check_url("https://user:pw@pub.example:8443/x?y=1", allow_private=False)


@pytest.mark.parametrize(
    ("url", "error_class"),
    [
        ("ftp://example.com/", "invalid_url"),
        ("http:///x", "invalid_url"),
        ("http://nosuch.invalid/", "dns"),
    ],
)
def test_it_check_url_rejects_bad_urls(url: str, error_class: str) -> None:
    with pytest.raises(TargetRefused) as info:
        check_url(url, allow_private=True)
    assert info.value.error_class == error_class


def test_it_pins_https_with_original_sni_and_verifies_tls(
    guarded: HttpClient, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = self_signed_cert(tmp_path, "tls.example")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    seen_sni: list[str | None] = []
    ctx.sni_callback = lambda _sock, name, _ctx: seen_sni.append(name)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve_one() -> None:
        conn, _ = listener.accept()
        try:
            with ctx.wrap_socket(conn, server_side=True):
                pass
        except (ssl.SSLError, OSError):
            pass  # the client rejects our self-signed certificate

    thread = threading.Thread(target=serve_one, daemon=True)
    thread.start()
    real = ssrf._blocked_reason
    monkeypatch.setattr(
        ssrf,
        "_blocked_reason",
        lambda ip: None if str(ip) == "127.0.0.1" else real(ip),
    )
    _fake_dns(monkeypatch, {"tls.example": ["127.0.0.1"]})
    try:
        r = guarded.request("GET", f"https://tls.example:{port}/", timeout_s=5)
    finally:
        thread.join(timeout=5)
        listener.close()
    assert seen_sni == ["tls.example"]  # connected to the pinned IP, SNI kept
    assert not r.ok and r.error_class == "tls" and not r.transient
    assert (r.error or "").startswith("TLS error: certificate verify failed")


# --------------------------------------------------------------------------- #
# Limits
# --------------------------------------------------------------------------- #
def test_it_caps_body_and_sets_truncated(server: _Server) -> None:
    with HttpClient(allow_private=True, max_body=1000) as c:
        r = c.request("GET", f"{server.base}/big")
        assert r.ok and r.truncated
        assert r.body == "x" * 1000
        exact = c.request("GET", f"{server.base}/ok")  # 5 bytes < cap
    assert exact.body == "hello" and not exact.truncated
    with HttpClient(allow_private=True, max_body=5) as c:
        r = c.request("GET", f"{server.base}/ok")
    assert r.body == "hello" and not r.truncated


def test_it_bounds_slow_drip_by_deadline(client: HttpClient, server: _Server) -> None:
    t0 = time.monotonic()
    r = client.request("GET", f"{server.base}/drip", timeout_s=0.5)
    elapsed = time.monotonic() - t0
    assert elapsed < 1.5
    assert not r.ok and r.error_class == "timeout" and r.transient
    assert r.status_code == 200
    assert 0 < len(r.body) < 1000


# --------------------------------------------------------------------------- #
# Redirects
# --------------------------------------------------------------------------- #
def test_it_does_not_follow_redirects_by_default(
    client: HttpClient, server: _Server
) -> None:
    before = _hits(server)
    r = client.request("GET", f"{server.base}/redirect")
    assert r.status_code == 302 and not r.ok
    assert r.headers["Location"] == "/ok"
    assert r.error_class == "http_status" and not r.transient
    assert _hits(server) == before + 1


def test_it_follows_redirects_when_asked(client: HttpClient, server: _Server) -> None:
    r = client.request("GET", f"{server.base}/redirect", follow_redirects=True)
    assert r.ok and r.status_code == 200 and r.body == "hello"


def test_it_turns_post_into_get_on_303(client: HttpClient, server: _Server) -> None:
    r = client.request(
        "POST",
        f"{server.base}/redirect?code=303&to=/echo",
        body="x",
        follow_redirects=True,
    )
    echo = json.loads(r.body)
    assert echo["method"] == "GET" and echo["body"] == ""


def test_it_keeps_method_on_307(client: HttpClient, server: _Server) -> None:
    r = client.request(
        "POST",
        f"{server.base}/redirect?code=307&to=/echo",
        body="x",
        follow_redirects=True,
    )
    echo = json.loads(r.body)
    assert echo["method"] == "POST" and echo["body"] == "x"


def test_it_caps_redirects(client: HttpClient, server: _Server) -> None:
    before = _hits(server)
    r = client.request("GET", f"{server.base}/loop", follow_redirects=True)
    assert not r.ok and r.error_class == "redirect"
    assert _hits(server) == before + 1 + http_limits.MAX_REDIRECTS


def test_it_refuses_redirect_to_other_schemes(
    client: HttpClient, server: _Server
) -> None:
    r = client.request(
        "GET", f"{server.base}/redirect?to=file:///etc/passwd", follow_redirects=True
    )
    assert not r.ok and r.error_class == "invalid_url"


# --------------------------------------------------------------------------- #
# Pooling and concurrency
# --------------------------------------------------------------------------- #
def test_it_reuses_pooled_connections(server: _Server) -> None:
    with HttpClient(allow_private=True) as c:
        with server.lock:
            server.client_ports.clear()
        for _ in range(5):
            assert c.request("GET", f"{server.base}/ok").ok
    with server.lock:
        assert len(server.client_ports) == 1


def test_idle_pooled_connections_are_closed_and_the_next_request_reconnects(server: _Server) -> None:
    with HttpClient(allow_private=True) as c:
        url = f"{server.base}/slow?ms=200"
        with ThreadPoolExecutor(max_workers=5) as pool:  # five at once: five pooled connections
            assert all(r.ok for r in pool.map(lambda _: c.request("GET", url), range(5)))
        assert c.close_idle(idle_s=3600) == 0  # in use a moment ago: kept
        assert c.close_idle(idle_s=0) == 5
        assert c.close_idle(idle_s=0) == 0
        with server.lock:
            server.client_ports.clear()
        assert c.request("GET", f"{server.base}/ok").ok  # the slot reconnects
        with server.lock:
            assert len(server.client_ports) == 1


def test_it_runs_requests_concurrently(client: HttpClient, server: _Server) -> None:
    url = f"{server.base}/slow?ms=200"
    t0 = time.monotonic()
    with ThreadPoolExecutor(50) as pool:
        results = list(
            pool.map(lambda _: client.request("GET", url, timeout_s=10), range(50))
        )
    elapsed = time.monotonic() - t0
    assert all(r.ok for r in results), {r.error for r in results}
    assert elapsed < 3.0


def test_it_does_not_share_cookies_between_requests(
    client: HttpClient, server: _Server
) -> None:
    assert client.request("GET", f"{server.base}/set-cookie").ok
    echo = json.loads(client.request("GET", f"{server.base}/echo").body)
    assert "cookie" not in echo["headers"]


# --------------------------------------------------------------------------- #
# Retry-After parsing
# --------------------------------------------------------------------------- #
def test_it_parses_retry_after_seconds() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 120 ") == 120.0
    assert parse_retry_after("0") == 0.0


def test_it_parses_retry_after_http_date() -> None:
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(later, now=now) == 90.0
    assert parse_retry_after("Wed, 01 May 2024 12:00:30 GMT", now=now) == 30.0
    assert (
        parse_retry_after("Wed, 01 May 2024 11:00:00 GMT", now=now) == 0.0
    )  # in the past
    assert (
        parse_retry_after("Wed, 01 May 2024 12:00:30 GMT", now=now.replace(tzinfo=None))
        == 30.0
    )


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1e3", "Thu, 99 Foo 2024"])
def test_it_ignores_bad_retry_after(value: str | None) -> None:
    assert parse_retry_after(value) is None
