"""SSE under load: N concurrent viewers of /api/v1/events while events are published at R per second.

Starts gunicorn exactly as the Procfile does (gunicorn.conf.py: gevent workers) against a throw-away
PostgreSQL database and its own Redis namespace, connects the viewers (asyncio, raw HTTP/1.0 so the
stream is not chunked), publishes with the app's own publisher, and meanwhile times /health and an API
call (GET /api/v1/cron). Delivery latency = arrival at the viewer - the event's `ts` set at publish.

    python -m bench.sse_bench                      # 200 viewers, 100 events/s, 20 s, 2 workers
    python -m bench.sse_bench --viewers 50 --rate 20 --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import requests

from bench.common import PG_ADMIN_URL, admin_exec, drop_namespace, pct, stop

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
TS = b'"ts": '  # the envelope's publish time, found without a JSON parse per frame


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(env: dict[str, str]) -> tuple[str, str]:
    """Migrate the fresh database, create an admin and a few jobs; return an access token and the user id."""
    os.environ.update(env)
    from flask_migrate import upgrade

    from cronmanager import create_app
    from cronmanager.auth import sessions
    from cronmanager.auth.users import create_user
    from cronmanager.extensions import db
    from cronmanager.models import CronJob

    app = create_app()
    with app.app_context():
        upgrade()
    with app.test_request_context():
        user = create_user("bench@example.com", "correct horse battery", "ADMIN")
        for i in range(20):
            db.session.add(CronJob(name=f"job {i}", cron_expression="0 3 * * *", timezone="UTC",
                                   endpoint_url="http://127.0.0.1:9/x", owner_id=user.id, is_active=False))
        access = sessions.issue_login_tokens(user)["access_token"]
        db.session.commit()
        return access, user.id


class Viewer:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.connected = asyncio.Event()
        self.errors = 0
        self.rejected_s: float | None = None  # a 503 past the server's cap: how long it took to get it
        self.retry_after = False


async def view(host: str, port: int, token: str, viewer: Viewer, stop: asyncio.Event) -> None:
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        viewer.errors += 1
        return
    writer.write(f"GET /api/v1/events HTTP/1.0\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        status_line = head.split(b"\r\n", 1)[0]
        if b" 503 " in status_line:
            viewer.rejected_s = time.perf_counter() - started
            viewer.retry_after = b"\r\nretry-after:" in head.lower()
            return
        if b" 200 " not in status_line:
            viewer.errors += 1
            return
        buffer = b""
        while not stop.is_set():
            chunk = await reader.read(65536)  # big reads: the client must not be the bottleneck
            if not chunk:
                raise ConnectionError("stream closed")
            now = time.time()
            if not viewer.connected.is_set():
                viewer.connected.set()
            buffer += chunk
            *frames, buffer = buffer.split(b"\n\n")
            for frame in frames:
                at = frame.find(TS)
                if at >= 0:
                    end = frame.find(b",", at)
                    viewer.latencies.append(now - float(frame[at + len(TS):end]))
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        if not stop.is_set():
            viewer.errors += 1
    finally:
        writer.close()


def probe(url: str, headers: dict[str, str], stop: threading.Event, out: list[tuple[float, int]]) -> None:
    session = requests.Session()
    while not stop.is_set():
        started = time.perf_counter()
        try:
            status = session.get(url, headers=headers, timeout=10).status_code
        except requests.RequestException:
            status = 0
        out.append((time.perf_counter() - started, status))
        stop.wait(0.2)


def publish_loop(rate: float, duration: float, prefix: str, owner_id: str, sent: list[int]) -> None:
    from redis import Redis

    from cronmanager.events.publisher import publish

    r = Redis.from_url(REDIS_URL)
    interval = 1.0 / rate
    start = time.perf_counter()
    n = 0
    while (elapsed := time.perf_counter() - start) < duration:
        due = n * interval
        if elapsed < due:
            time.sleep(due - elapsed)
        publish(r, prefix, "execution:completed", {"id": n, "cron_job_id": "bench", "status": "SUCCESS"},
                owner_id=owner_id)
        n += 1
    sent.append(n)


def probe_for(seconds: float, base: str, token: str) -> dict[str, list]:
    """/health and the API with no viewer connected: the same-run baseline of the figures under load."""
    probes: dict[str, list] = {"health": [], "api": []}
    halt = threading.Event()
    threads = [threading.Thread(target=probe, args=(f"{base}/health", {}, halt, probes["health"]), daemon=True),
               threading.Thread(target=probe, args=(f"{base}/api/v1/cron?per_page=20",
                                                    {"Authorization": f"Bearer {token}"}, halt, probes["api"]),
                                daemon=True)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    halt.set()
    for t in threads:
        t.join()
    return probes


async def run(args: argparse.Namespace, port: int, token: str, prefix: str, owner_id: str) -> dict:
    stop = asyncio.Event()
    baseline = await asyncio.to_thread(probe_for, 5.0, f"http://127.0.0.1:{port}", token)
    viewers = [Viewer() for _ in range(args.viewers)]
    tasks = []
    for v in viewers:
        tasks.append(asyncio.create_task(view("127.0.0.1", port, token, v, stop)))
        await asyncio.sleep(0.005)
    connect_deadline = time.monotonic() + 30
    while (sum(v.connected.is_set() or v.rejected_s is not None for v in viewers) < args.viewers
           and time.monotonic() < connect_deadline):
        await asyncio.sleep(0.1)
    connected = sum(v.connected.is_set() for v in viewers)
    base = f"http://127.0.0.1:{port}"
    probes: dict[str, list] = {"health": [], "api": []}
    halt = threading.Event()
    threads = [threading.Thread(target=probe, args=(f"{base}/health", {}, halt, probes["health"]), daemon=True),
               threading.Thread(target=probe, args=(f"{base}/api/v1/cron?per_page=20",
                                                    {"Authorization": f"Bearer {token}"}, halt, probes["api"]),
                                daemon=True)]
    sent: list[int] = []
    publisher = threading.Thread(target=publish_loop, args=(args.rate, args.duration, prefix, owner_id, sent),
                                 daemon=True)
    for v in viewers:
        v.latencies.clear()
    for t in threads:
        t.start()
    publisher.start()
    while publisher.is_alive():
        await asyncio.sleep(0.1)
    await asyncio.sleep(2.0)  # let the tail arrive
    halt.set()
    stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies = [x for v in viewers for x in v.latencies]
    return {"connected": connected, "errors": sum(v.errors for v in viewers), "sent": sent[0] if sent else 0,
            "rejected": [v.rejected_s for v in viewers if v.rejected_s is not None], "baseline": baseline,
            "retry_after": sum(v.retry_after for v in viewers),
            "latencies": latencies, "probes": probes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--rate", type=float, default=100.0, help="events published per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of publishing")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY)")
    args = parser.parse_args()

    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    name = f"cm_ssebench_{uuid.uuid4().hex[:6]}"
    prefix = f"ssebench-{uuid.uuid4().hex[:6]}"
    admin_exec(f'CREATE DATABASE "{name}"')
    database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    port = free_port()
    env = {"CRONMANAGER_ENV": "development", "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL,
           "REDIS_PREFIX": prefix, "API_RATE_LIMIT": "1000000/minute", "LOG_LEVEL": "warning",
           # every viewer here is the same user: the per-user cap (SPEC §6) would refuse all but 10
           "SSE_MAX_STREAMS_PER_USER": str(args.viewers + 10)}
    gunicorn = None
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"{prefix}-gunicorn.log"
    log_file = open(log_path, "wb")
    try:
        token, owner_id = prepare(env)
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
            env={**os.environ, **env, "PORT": str(port), "WEB_CONCURRENCY": str(args.workers), "WEB_ACCESS_LOG": ""},
            stdout=log_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.2)
        result = asyncio.run(run(args, port, token, prefix, owner_id))
    finally:
        stop(gunicorn)
        log_file.close()
        drop_namespace(REDIS_URL, prefix, name)

    log_text = log_path.read_text(errors="replace")
    lat = [x * 1000 for x in result["latencies"]]
    expected = result["sent"] * result["connected"]
    print(f"gunicorn gevent, {args.workers} workers, {os.cpu_count()} cores; {args.viewers} viewers, "
          f"{args.rate:g} events/s for {args.duration:g} s; load average before: {load_before}")
    print(f"gunicorn log           {log_path} (worker timeouts: {log_text.count('WORKER TIMEOUT')}, "
          f"errors: {log_text.count('Traceback')})")
    print(f"connected viewers      {result['connected']}/{args.viewers} (stream errors: {result['errors']})")
    rejected = [x * 1000 for x in result["rejected"]]
    if rejected:
        print(f"past the cap (503)     {len(rejected)} viewers, {result['retry_after']} with Retry-After; answered in"
              f" p50 {pct(rejected, 50):.1f} ms  p99 {pct(rejected, 99):.1f} ms  max {max(rejected):.1f} ms")
    print(f"events published       {result['sent']}")
    print(f"deliveries             {len(lat)} of {expected} expected ({len(lat) / max(expected, 1):.1%})")
    if lat:
        print(f"delivery latency ms    p50 {pct(lat, 50):.1f}  p90 {pct(lat, 90):.1f}  p99 {pct(lat, 99):.1f}  "
              f"max {max(lat):.1f}  mean {statistics.fmean(lat):.1f}")
    for label, key in (("/health", "health"), ("GET /api/v1/cron", "api")):
        for when, probes in (("no viewers", result["baseline"]), ("streaming", result["probes"])):
            samples = probes[key]
            ms = [s * 1000 for s, _ in samples]
            codes = sorted({c for _, c in samples})
            if ms:
                print(f"{label:<17}{when:>11} n={len(ms)} p50 {pct(ms, 50):.1f} ms  p99 {pct(ms, 99):.1f} ms  "
                      f"max {max(ms):.1f} ms  statuses {codes}")


if __name__ == "__main__":
    main()
