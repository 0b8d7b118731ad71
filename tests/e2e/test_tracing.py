"""Traces of fires, end to end: real scheduler and worker processes exporting OTLP/HTTP to a receiver started here."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from cronmanager.extensions import db
from cronmanager.models import CronExecution
from tests.stack import OtlpReceiver, start_otlp_receiver, wait_for

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"  # every Persona's (tests/conftest.py)
CLIENT = 3  # SpanKind.CLIENT in the OTLP enum (INTERNAL=1, SERVER=2, CLIENT=3)


@pytest.fixture
def otlp() -> Iterator[OtlpReceiver]:
    receiver = start_otlp_receiver()
    yield receiver
    receiver.close()


def tracing_env(receiver: OtlpReceiver) -> dict[str, str]:
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_SERVICE_NAME": "cron-under-test",
            "OTEL_BSP_SCHEDULE_DELAY": "100"}


def create(client, persona, **fields):
    resp = client.post("/api/v1/cron", json={"name": "traced", "cron_expression": "*/2 * * * * *", **fields},
                       headers=persona.headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def executions(app, job_id: str) -> list[CronExecution]:
    with app.app_context():
        rows = db.session.execute(select(CronExecution).where(CronExecution.cron_job_id == job_id)
                                  .order_by(CronExecution.id)).scalars().all()
        db.session.expunge_all()
        db.session.remove()
        return rows


def first_retried_fire(app, job_id: str) -> tuple[CronExecution, CronExecution] | None:
    rows = executions(app, job_id)
    for retry in rows:
        if retry.trigger == "retry" and retry.status == "SUCCESS":
            first = next(r for r in rows if r.scheduled_for == retry.scheduled_for and r.attempt_number == 1)
            return first, retry
    return None


def test_one_trace_spans_placement_call_recording_and_retry_and_the_target_continues_it(
        app, client, owner, target, stack, otlp):
    stack.worker(**tracing_env(otlp))
    stack.scheduler(**tracing_env(otlp))
    flaky = create(client, owner, endpoint_url=f"{target.url}/flaky/traced?fail=1", retry_count=1)
    quiet = create(client, owner, endpoint_url=f"{target.url}/echo/quiet", propagate_trace=False)
    assert quiet["propagate_trace"] is False and flaky["propagate_trace"] is True

    first, retry = wait_for(lambda: first_retried_fire(app, flaky["id"]), 30, message="a failed fire and its retry")
    assert first.status == "FAILED" and first.response_status == 503
    assert first.trace_id and re.fullmatch(r"[0-9a-f]{32}", first.trace_id)
    assert retry.trace_id == first.trace_id, "the retry left the fire's trace"
    trace_id = first.trace_id

    def recorded() -> list:
        spans = otlp.in_trace(trace_id)
        return spans if sum(s.name == "cron.record" for s in spans) >= 2 else []

    spans = wait_for(recorded, 20, message="both recordings exported")
    by_id = {s.span_id: s for s in spans}
    [place] = [s for s in spans if s.name == "cron.place"]
    assert place.parent_span_id == "" and place.service == "cron-under-test"
    assert place.attributes["cron.execution.id"] == first.id and place.attributes["cron.job.id"] == flaky["id"]
    assert place.attributes["cron.scheduled_for"].startswith(first.scheduled_for.strftime("%Y-%m-%dT%H:%M:%S"))

    executes = {s.attributes["cron.execution.id"]: s for s in spans if s.name == "cron.execute"}
    assert set(executes) == {first.id, retry.id}
    assert executes[first.id].parent_span_id == place.span_id
    assert executes[retry.id].parent_span_id == executes[first.id].span_id
    assert executes[first.id].attributes["cron.status"] == "FAILED"
    assert executes[retry.id].attributes["cron.attempt"] == 2
    assert executes[retry.id].attributes["cron.status"] == "SUCCESS"

    records = {s.attributes["cron.execution.id"]: s for s in spans if s.name == "cron.record"}
    assert records[first.id].parent_span_id == executes[first.id].span_id
    assert records[first.id].attributes["cron.retry.execution_id"] == retry.id
    assert records[retry.id].parent_span_id == executes[retry.id].span_id

    calls = [s for s in spans if s.kind == CLIENT and s.name == "GET"]
    assert {by_id[c.parent_span_id].attributes["cron.execution.id"] for c in calls} == {first.id, retry.id}
    # the target saw the client span as its parent, in the same trace
    hits = {h.headers["X-CronManager-Execution"]: h for h in target.hits_for("/flaky/traced")}
    for execution in (first, retry):
        parent = hits[str(execution.id)].headers["traceparent"]
        version, tid, span_id, _flags = parent.split("-")
        assert tid == trace_id and span_id in {c.span_id for c in calls}
        assert by_id[span_id].parent_span_id == executes[execution.id].span_id

    # the per-job opt-out: the fire is traced, the target gets no trace context
    wait_for(lambda: target.hits_for("/echo/quiet"), 10, message="the opted-out job fired")
    assert all("traceparent" not in {k.lower() for k in h.headers} for h in target.hits_for("/echo/quiet"))
    wait_for(lambda: [s for s in otlp.named("cron.execute") if s.attributes["cron.job.id"] == quiet["id"]], 10,
             message="the opted-out fire's span")

    # the record, the API and the viewer show the trace id (a link when TRACE_URL_TEMPLATE is set)
    resp = client.get(f"/api/v1/cron/{flaky['id']}/executions", headers=owner.headers)
    assert {i["id"]: i["trace_id"] for i in resp.get_json()["items"]}[retry.id] == trace_id
    app.config["TRACE_URL_TEMPLATE"] = "https://jaeger.example/trace/{trace_id}"
    client.post("/login", data={"email": owner.email, "password": PASSWORD})
    page = client.get(f"/jobs/{flaky['id']}/executions/{retry.id}").get_data(as_text=True)
    assert f'href="https://jaeger.example/trace/{trace_id}"' in page


def _free_port(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_without_an_endpoint_nothing_is_exported_and_targets_get_no_trace_context(
        app, client, owner, target, stack):
    # every other OTEL_* switch is set; the exporter's default endpoint (localhost:4318) is where we listen
    receiver = start_otlp_receiver(4318) if _free_port(4318) else None
    try:
        env = {"OTEL_SERVICE_NAME": "cron-under-test", "OTEL_TRACES_SAMPLER": "always_on",
               "OTEL_BSP_SCHEDULE_DELAY": "100"}
        worker = stack.worker(**env)
        stack.scheduler(**env)
        job = create(client, owner, endpoint_url=f"{target.url}/status/500", retry_count=1)
        wait_for(lambda: any(e.trigger == "retry" and e.status == "FAILED" for e in executions(app, job["id"])), 20,
                 message="a fire and its retry")
        assert all(e.traceparent is None for e in executions(app, job["id"]))
        assert all("traceparent" not in {k.lower() for k in h.headers} for h in target.hits_for("/status/500"))
        worker.stop()  # a provider would flush its buffer now
        if receiver is not None:
            assert receiver.posts == 0 and receiver.spans == []
    finally:
        if receiver is not None:
            receiver.close()


def test_sampled_out_fires_still_run_and_pass_an_unsampled_traceparent_on(app, client, owner, target, stack, otlp):
    env = {**tracing_env(otlp), "OTEL_TRACES_SAMPLER": "always_off"}
    stack.worker(**env)
    stack.scheduler(**env)
    job = create(client, owner, endpoint_url=f"{target.url}/flaky/unsampled?fail=1", retry_count=1)
    first, retry = wait_for(lambda: first_retried_fire(app, job["id"]), 30, message="a failed fire and its retry")
    assert first.trace_id and retry.trace_id == first.trace_id
    parents = [h.headers["traceparent"] for h in target.hits_for("/flaky/unsampled")]
    assert all(int(p.split("-")[3], 16) & 1 == 0 for p in parents), parents  # none sampled
    # the fire and its retry carry its trace (a later slot's fire, with a trace of its own, may have come too)
    assert len([p for p in parents if p.split("-")[1] == first.trace_id]) == 2, parents
    assert otlp.in_trace(first.trace_id) == []
