"""Helpers shared by test modules (fixtures live in conftest.py): serving the test app on a real socket, running
the schemathesis CLI at it, certificates, jobs and their execution rows."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import requests
from cronsim import CronSim
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from requests.adapters import HTTPAdapter
from sqlalchemy import select
from werkzeug.serving import make_server

from cronmanager.extensions import db
from cronmanager.models import CronExecution
from tests.conftest import run_sql

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def served(app) -> Iterator[str]:
    """The app on 127.0.0.1 (threaded werkzeug), for clients that speak real HTTP; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


@contextmanager
def short_event_streams(app) -> Iterator[None]:
    """Live-event streams that end after half a second, so a fuzzer reading each answer whole gets to the end."""
    saved = {key: app.config[key] for key in ("SSE_MAX_STREAM_S", "SSE_HEARTBEAT_S")}
    app.config.update(SSE_MAX_STREAM_S=0.5, SSE_HEARTBEAT_S=0.2)
    try:
        yield
    finally:
        app.config.update(saved)


class _FromAddress(HTTPAdapter):
    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def from_address(address: str) -> requests.Session:
    """A client whose requests come from `address` (any 127.0.0.0/8 one reaches a server on 127.0.0.1), so
    per-address limits can be tested without proxies and without sharing a bucket with other tests."""
    session = requests.Session()
    session.mount("http://", _FromAddress(address))
    return session


# The whole API in four runs, which the slow phase's workers take side by side instead of one after another: a
# job and what hangs off it, the other job tools, the people, and everything else (the complement of the first
# three, so no operation can fall between them). No link leads from one part to another (tests/api/
# test_openapi.py asserts it), so the stateful phase loses no sequence; the job tools have no links at all, so
# they have no stateful phase.
_JOBS = r"^/api/v1/cron(/\{job_id\}(/.*)?)?$"
_JOB_TOOLS = r"^/api/v1/cron/(?!\{job_id\})"
_PEOPLE = r"^/api/v1/(teams|users|audit|logs|stats|system|events)(/|$)"
_ALL_PHASES = ("examples", "coverage", "fuzzing", "stateful")
API_PARTS = {
    "jobs": (("--include-path-regex", _JOBS), _ALL_PHASES),
    "job-tools": (("--include-path-regex", _JOB_TOOLS), _ALL_PHASES[:3]),
    "people": (("--include-path-regex", _PEOPLE), _ALL_PHASES),
    "the-rest": (("--exclude-path-regex", f"({_JOBS})|({_JOB_TOOLS})|({_PEOPLE})"), _ALL_PHASES),
}


def api_part(path: str) -> str:
    """The part of API_PARTS that holds `path`."""
    return next((name for name, ((flag, pattern), _) in API_PARTS.items()
                 if flag == "--include-path-regex" and re.search(pattern, path)), "the-rest")


def schemathesis_run(base_url: str, token: str, report_dir: Path, *extra: str, timeout: float = 600,
                     phases: str = "examples,coverage,fuzzing,stateful") -> subprocess.CompletedProcess:
    """`schemathesis run` exactly as from outside: every check, every phase unless told, the token in a header.
    Hypothesis's `too_slow` health check is off: it fails a run when generating examples takes long in wall-clock
    time, which on a loaded 2-core machine says nothing about the API. Each request may take 60 s, not schemathesis'
    10, both as a timeout and as the response-time check: `POST /cron/test` resolves its target's name with the
    machine's resolver, and one lost UDP answer costs the resolver's 5 s retry per lookup (seen: 10.5 s)."""
    command = [str(Path(sys.executable).parent / "schemathesis"), "run", f"{base_url}/api/v1/openapi.json",
               "-c", "all", "--phases", phases, "-H", f"Authorization: Bearer {token}",
               "--suppress-health-check", "too_slow", "--request-timeout", "60", "--max-response-time", "60",
               "--report", "har", "--report-dir", str(report_dir), "--no-color", *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def self_signed_cert(directory: Path, name: str) -> tuple[str, str]:
    """(cert path, key path) of a fresh self-signed certificate for `name`; clients must reject it."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def create(client, persona, **fields):
    """Create a job through the API as `persona` (201 asserted) and return its JSON."""
    resp = client.post("/api/v1/cron", json={"name": "job", **fields}, headers=persona.headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def execution_rows(app, job_id: str, n: int, status: str = "PENDING") -> list[int]:
    """n scheduled rows of the job, one a second back from now and all due, in `status`; ids ascending."""
    return sorted(r[0] for r in run_sql(app, """
        INSERT INTO cron_executions (cron_job_id, scheduled_for, trigger, attempt_number, due_at, created_at, status,
                                     response_truncated)
        SELECT :job, now() - make_interval(secs => i), 'schedule', 1, now(), now(), :status, false
        FROM generate_series(1, :n) AS i RETURNING id""", job=job_id, n=n, status=status))


def executions(app, job_id: str, **filters: object) -> list[CronExecution]:
    """Execution rows of a job, detached from the session, optionally filtered by column values."""
    with app.app_context():
        stmt = select(CronExecution).where(CronExecution.cron_job_id == job_id)
        for key, value in filters.items():
            stmt = stmt.where(getattr(CronExecution, key) == value)
        rows = db.session.execute(stmt.order_by(CronExecution.id)).scalars().all()
        db.session.expunge_all()
        db.session.remove()
        return rows


def cronsim_fires(expression: str, zone: str, start: datetime, end: datetime) -> list[datetime]:
    """The reference oracle (cronsim, Debian cron's DST rules): fires of `expression` in `zone` in (start, end]."""
    fires = []
    for local in CronSim(expression, start.astimezone(ZoneInfo(zone))):
        instant = local.astimezone(UTC)
        if instant > end:
            return fires
        fires.append(instant)
    return fires


PERSONA_PASSWORD = "correct horse battery"  # every persona's (tests/conftest.py)


def signed_in(app, persona):
    """A test client signed in to the dashboard as `persona` through the login page (302 asserted)."""
    client = app.test_client()
    resp = client.post("/login", data={"email": persona.email, "password": PERSONA_PASSWORD})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return client


def assert_contiguous_slots(rows: list[CronExecution], step_s: int = 1) -> None:
    """Each scheduled slot between the first and last row appears exactly once (fired or recorded MISSED)."""
    firsts = [r for r in rows if r.attempt_number == 1]
    counts = Counter(r.scheduled_for for r in firsts)
    assert max(counts.values()) == 1, [k for k, v in counts.items() if v > 1]
    slots = sorted(counts)
    expected = int((slots[-1] - slots[0]).total_seconds()) // step_s + 1
    assert len(slots) == expected, f"{expected - len(slots)} slots have no row"
