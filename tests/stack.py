"""Real processes for end-to-end tests: `flask worker` / `flask scheduler` subprocesses and an HTTP target."""

from __future__ import annotations

import atexit
import gzip
import json
import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.helpers import self_signed_cert

ROOT = Path(__file__).resolve().parent.parent


# how long a process started by a test may take to come up: its interpreter and create_app cost about 2.5 s of
# CPU, which on 2 cores shared by a whole slow phase can stretch past half a minute
PROCESS_START_S = 90.0


def wait_for(predicate: Callable[[], object], timeout: float = 20.0, interval: float = 0.05,
             message: str | Callable[[], str] = "condition") -> object:
    """Poll with a deadline: the one way these tests wait. `message` may be a callable, read at the deadline (a
    process's output as it is then, not as it was when the wait began)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            said = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout} s waiting for {said}")
        time.sleep(interval)


@dataclass
class Hit:
    method: str
    path: str
    query: dict
    headers: dict
    body: str
    at: float


@dataclass
class Target:
    """A real HTTP server on 127.0.0.1; the path picks the behaviour: /ok, /status/<n>, /slow?ms=, /flaky/<k>?fail=N,
    /hold?ms= (waits for the client to hang up, recorded in `disconnects`, else answers after ms)."""

    server: ThreadingHTTPServer
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    counters: dict = field(default_factory=dict)
    entered: threading.Event = field(default_factory=threading.Event)
    disconnects: list[Hit] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def hits_for(self, path_prefix: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.path.startswith(path_prefix)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_target() -> Target:
    holder: dict = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _handle(self) -> None:
            target: Target = holder["t"]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            parsed = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
            hit = Hit(self.command, parsed.path, query, dict(self.headers), body, time.time())
            with target.lock:
                target.hits.append(hit)
            parts = parsed.path.strip("/").split("/")
            status, payload = 200, b'{"ok": true}'
            if parts[0] == "status":
                status = int(parts[1])
            elif parts[0] == "slow":
                target.entered.set()
                time.sleep(int(query.get("ms", "1000")) / 1000)
            elif parts[0] == "hold":
                target.entered.set()
                if _peer_hangs_up(self.connection, int(query.get("ms", "1000")) / 1000):
                    with target.lock:
                        target.disconnects.append(Hit(hit.method, hit.path, hit.query, hit.headers, "", time.time()))
                    self.close_connection = True
                    return
            elif parts[0] == "flaky":
                with target.lock:
                    n = target.counters.get(parsed.path, 0) + 1
                    target.counters[parsed.path] = n
                if n <= int(query.get("fail", "1")):
                    status = 503
            elif parts[0] == "echo":
                payload = json.dumps({"method": self.command, "body": body}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    target = Target(server)
    holder["t"] = target
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return target


def _peer_hangs_up(sock: socket.socket, within_s: float) -> bool:
    """True as soon as the client closes its side (EOF or reset), False if it is still there after within_s."""
    deadline = time.monotonic() + within_s
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([sock], [], [], left)
        if readable:
            try:
                return sock.recv(1, socket.MSG_PEEK) == b""
            except OSError:
                return True
    return False


def start_tls_target(directory: Path) -> tuple[str, Callable[[], None]]:
    """An https:// URL on 127.0.0.1 whose self-signed certificate every verifying client refuses; and its closer."""
    cert, key = self_signed_cert(directory, "localhost")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with ctx.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass  # the client refused the certificate: what the tests want

    threading.Thread(target=serve, daemon=True).start()

    def close() -> None:
        stop.set()
        listener.close()

    return f"https://localhost:{listener.getsockname()[1]}", close


def inherited_env() -> dict[str, str]:
    """This process's environment without pytest's own variables, for the processes a test starts."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "COV_"))}


def process_env(database_url: str, redis_url: str, prefix: str, **extra: str) -> dict[str, str]:
    env = inherited_env()
    env.update({
        "CRONMANAGER_ENV": "testing", "DATABASE_URL": database_url, "REDIS_URL": redis_url, "REDIS_PREFIX": prefix,
        "ALLOW_PRIVATE_TARGETS": "1", "SCHEDULER_TICK_S": "0.1", "RETRY_BACKOFF_S": "1,1,1", "RETRY_JITTER": "0",
        "LOG_LEVEL": "info", "PYTHONUNBUFFERED": "1",
        "WORKER_PROCESSES": "1",  # one worker per Proc, so a test's kill or heartbeat count means one process
    })
    env.update(extra)
    return env


class Forked:
    """The part of `subprocess.Popen` tests use, for a child of the fork server (tests/forkserver.py): its pid
    for signals, and its exit code, which the server reports on the child's own connection."""

    def __init__(self, conn: socket.socket) -> None:
        self._conn = conn
        self._buffer = b""
        self.pid = int(self._line(None).split()[1])
        self.returncode: int | None = None

    def _line(self, timeout: float | None) -> bytes | None:
        """The next line from the server; None if none came within `timeout`, b"" if the server is gone."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([self._conn], [], [], wait)[0]:
                return None
            chunk = self._conn.recv(256)
            if not chunk:
                return b""
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def _read_exit(self, timeout: float | None) -> None:
        if self.returncode is not None:
            return
        line = self._line(timeout)
        if line is None:
            return
        # no line at all: the fork server itself is gone (on its way out it terminates the children it has)
        self.returncode = int(line.split()[1]) if line.startswith(b"exit ") else -signal.SIGKILL
        self._conn.close()

    def poll(self) -> int | None:
        self._read_exit(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        self._read_exit(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkServer:
    """One per test process, started on first use: it has imported the app's modules once, and forks each
    `flask <command>` from there (why and how: tests/forkserver.py)."""

    _current: ForkServer | None = None

    def __init__(self) -> None:
        self.path = f"/tmp/cm-fork-{os.getpid()}-{time.monotonic_ns()}.sock"
        self.popen = subprocess.Popen([sys.executable, "-u", "-m", "tests.forkserver", self.path], cwd=ROOT,
                                      env=inherited_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.popen.stdout is not None
        ready = self.popen.stdout.readline()
        assert ready == b"ready\n", f"the fork server did not start: {ready!r}"

    @classmethod
    def get(cls) -> ForkServer:
        if cls._current is None or cls._current.popen.poll() is not None:
            cls._current = cls()
        return cls._current

    def spawn(self, argv: list[str], env: dict[str, str], log_path: Path, err_path: Path | None = None) -> Forked:
        """`flask <argv>` with its output appended to `log_path` (its stderr to `err_path` if given)."""
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(self.path)
        request = {"argv": argv, "env": env, "cwd": str(ROOT), "log": str(log_path),
                   "err": str(err_path) if err_path else None}
        conn.sendall(json.dumps(request).encode() + b"\n")
        return Forked(conn)

    def close(self) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.close()
        self.popen.wait(30)
        Path(self.path).unlink(missing_ok=True)


@atexit.register
def _close_fork_server() -> None:
    if ForkServer._current is not None:
        ForkServer._current.close()


def flask_run(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """`subprocess.run([python, -m, flask, --app, wsgi, *args], capture_output=True, text=True)` for a one-off
    command (`flask health`, `flask backup`...), forked from the fork server unless TEST_FRESH_PROCESSES=1."""
    argv = ["--app", "wsgi", *args]
    if os.environ.get("TEST_FRESH_PROCESSES"):
        return subprocess.run([sys.executable, "-m", "flask", *argv], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=timeout)
    with tempfile.TemporaryDirectory(prefix="cm-flask-run-") as tmp:
        out, err = Path(tmp, "stdout"), Path(tmp, "stderr")
        child = ForkServer.get().spawn(argv, env, out, err)
        try:
            code = child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            raise
        return subprocess.CompletedProcess([sys.executable, "-m", "flask", *argv], code,
                                           out.read_text(errors="replace") if out.exists() else "",
                                           err.read_text(errors="replace") if err.exists() else "")


class Proc:
    """One `flask --app wsgi <command>` process with its output captured to a file for post-mortems; forked from
    the fork server (`.popen` is a `Forked`), or a fresh interpreter (`subprocess.Popen`) with
    TEST_FRESH_PROCESSES=1."""

    def __init__(self, command: str, env: dict[str, str], log_dir: Path, name: str) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")
        argv = ["--app", "wsgi", *command.split()]
        if os.environ.get("TEST_FRESH_PROCESSES"):
            self.popen: subprocess.Popen | Forked = subprocess.Popen(
                [sys.executable, "-m", "flask", *argv], cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        else:
            self.popen = ForkServer.get().spawn(argv, env, self.log_path)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()
        return self.popen.returncode

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class ExportedSpan:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    attributes: dict
    service: str


@dataclass
class OtlpReceiver:
    """A real OTLP/HTTP endpoint on 127.0.0.1: decodes each POST /v1/traces with opentelemetry-proto."""

    server: ThreadingHTTPServer
    spans: list[ExportedSpan] = field(default_factory=list)
    posts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def in_trace(self, trace_id: str) -> list[ExportedSpan]:
        with self.lock:
            return [s for s in self.spans if s.trace_id == trace_id]

    def named(self, name: str) -> list[ExportedSpan]:
        with self.lock:
            return [s for s in self.spans if s.name == name]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _any_value(value) -> object:  # an opentelemetry-proto AnyValue
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def start_otlp_receiver(port: int = 0) -> OtlpReceiver:
    holder: dict = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            receiver: OtlpReceiver = holder["r"]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            request = ExportTraceServiceRequest.FromString(body)
            spans = []
            for resource_spans in request.resource_spans:
                resource = {a.key: _any_value(a.value) for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for s in scope_spans.spans:
                        spans.append(ExportedSpan(s.trace_id.hex(), s.span_id.hex(), s.parent_span_id.hex(), s.name,
                                                  s.kind, {a.key: _any_value(a.value) for a in s.attributes},
                                                  str(resource.get("service.name"))))
            with receiver.lock:
                receiver.posts += 1
                receiver.spans.extend(spans)
            payload = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    receiver = OtlpReceiver(server)
    holder["r"] = receiver
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver
