"""Every Procfile process writes JSON lines carrying the ids it knows; tokens never reach a log or a span."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import TEST_REDIS_URL
from tests.stack import ROOT, process_env, start_otlp_receiver, wait_for

pytestmark = pytest.mark.slow


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def json_lines(path: Path) -> list[dict]:
    entries = []
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except ValueError:
            pytest.fail(f"{path.name}: not a JSON line: {line!r}")
    return entries


def test_every_procfile_process_logs_json_lines_with_the_ids_it_knows(
        app, client, owner, target, database_url, redis_prefix, tmp_path):
    receiver = start_otlp_receiver()
    port = free_port()
    env = process_env(database_url, TEST_REDIS_URL, redis_prefix, LOG_LEVEL="debug", PORT=str(port),
                      WEB_CONCURRENCY="1", OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, OTEL_BSP_SCHEDULE_DELAY="100")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    commands = procfile()
    assert set(commands) == {"release", "web", "worker", "scheduler"}
    procs: dict[str, subprocess.Popen] = {}
    outputs = {name: tmp_path / f"{name}.log" for name in commands}

    def start(name: str) -> subprocess.Popen:
        with open(outputs[name], "wb") as out:
            procs[name] = subprocess.Popen(shlex.split(commands[name]), cwd=ROOT, env=env, stdout=out,
                                           stderr=subprocess.STDOUT)
        return procs[name]

    try:
        assert start("release").wait(120) == 0, outputs["release"].read_text()
        for name in ("web", "worker", "scheduler"):
            start(name)
        base = f"http://127.0.0.1:{port}"
        # fresh interpreters beside the other slow tests: 60 s ran out on a machine about 1.4x slower than usual
        wait_for(lambda: _answers(f"{base}/health"), 180, message=f"web up\n{_tail(outputs['web'])}")
        job = client.post("/api/v1/cron", json={"name": "logged", "cron_expression": "*/2 * * * * *",
                                                "endpoint_url": f"{target.url}/status/500"},
                          headers=owner.headers).get_json()
        # a token in the query string (allowed by the API) must reach neither the access log nor a span
        secret = owner.access
        assert requests.get(f"{base}/api/v1/cron?token={secret}", timeout=10).status_code == 200

        def fired_and_logged() -> bool:
            worker = [e for e in json_lines(outputs["worker"]) if e.get("execution_id")]
            return bool(worker) and any(e.get("job_id") == job["id"] and e.get("trace_id") for e in worker)

        wait_for(fired_and_logged, 30, message=f"a logged fire\n{_tail(outputs['worker'])}")
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        receiver.close()

    logs = {name: json_lines(path) for name, path in outputs.items()}
    assert all(logs.values()), {name: len(entries) for name, entries in logs.items()}
    assert all({"ts", "level", "logger", "msg"} <= set(e) for entries in logs.values() for e in entries)

    fire_lines = [e for e in logs["worker"] if e.get("execution_id") and e.get("job_id") == job["id"]]
    assert fire_lines and all(len(e["trace_id"]) == 32 and len(e["span_id"]) == 16 for e in fire_lines)
    assert any(e["logger"].startswith("rq.") for e in logs["worker"]), "RQ's own lines"
    placed = [e for e in logs["scheduler"] if e.get("job_id") == job["id"] and e.get("execution_id")]
    assert placed and all(e.get("trace_id") for e in placed)
    assert {e["trace_id"] for e in placed} & {e["trace_id"] for e in fire_lines}, "scheduler and worker share traces"

    access = [e for e in logs["web"] if e["logger"] == "gunicorn.access" and e["path"] == "/api/v1/cron"]
    assert access and access[0]["status"] == 200 and len(access[0]["trace_id"]) == 32
    assert any(e["logger"] == "gunicorn.error" for e in logs["web"])
    assert any(e["logger"].startswith("alembic") for e in logs["release"])

    assert all(secret not in path.read_text() for path in outputs.values())
    web_spans = [s for s in receiver.spans if s.trace_id == access[0]["trace_id"]]
    assert web_spans and secret not in repr(web_spans)
    # the SQLAlchemy and Redis instrumentations put the request's statements under its span
    systems = {s.attributes.get("db.system") for s in web_spans}
    assert {"postgresql", "redis"} <= systems, systems


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code in (200, 503)
    except requests.RequestException:
        return False


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""
