"""Observability pieces that need no processes: switches, redaction, the sampler, log line contents."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime

import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision
from opentelemetry.trace import SpanKind

import config
from config import ConfigError
from cronmanager.execution.outcome import (
    ConcurrencyPolicy,
    ExecutionStatus,
    Fire,
    HttpResult,
    JobSnapshot,
    RecordKind,
    Trigger,
)
from cronmanager.execution.spans import retry_traceparent, start_fire, traced_fire, traced_recording
from cronmanager.logging_setup import JsonFormatter, TextFormatter, log_ids
from cronmanager.observability import tracing
from cronmanager.observability.tracing import (
    IdleTimeExporter,
    OrphanClientSpansDropped,
    otlp_configured,
    redact_url,
    untraced_batch_io,
)
from tests.stack import wait_for


@pytest.mark.parametrize(("env", "on"), [
    ({}, False),
    ({"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
])
def test_tracing_is_switched_on_by_an_otlp_endpoint_only(env, on):
    assert otlp_configured(env) is on


def test_secret_looking_query_values_are_masked_in_span_urls():
    assert redact_url("https://x.test/api/v1/cron?token=tasker_abc&page=2") == \
        "https://x.test/api/v1/cron?token=***&page=2"
    assert "s3cr3t" not in redact_url("/hook?api_key=s3cr3t&x=1")
    assert redact_url("https://x.test/plain") == "https://x.test/plain"


def _sample(kind: SpanKind, parent: trace.Span | None) -> Decision:
    sampler = OrphanClientSpansDropped(ALWAYS_ON)
    ctx = trace.set_span_in_context(parent) if parent else None
    return sampler.should_sample(ctx, 1, "x", kind).decision


def test_client_spans_without_a_parent_are_dropped_and_everything_else_is_left_to_the_configured_sampler():
    parent = TracerProvider().get_tracer("t").start_span("fire")
    assert _sample(SpanKind.CLIENT, None) is Decision.DROP
    assert _sample(SpanKind.CLIENT, parent) is Decision.RECORD_AND_SAMPLE
    assert _sample(SpanKind.SERVER, None) is Decision.RECORD_AND_SAMPLE
    assert _sample(SpanKind.PRODUCER, None) is Decision.RECORD_AND_SAMPLE


def _record(msg: str = "hello", **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("cronmanager.test", logging.INFO, __file__, 1, msg, None, None)
    record.__dict__.update(extra)
    return record


def test_log_lines_carry_the_current_span_and_the_bound_fire_ids():
    span = TracerProvider().get_tracer("t").start_span("fire")
    ctx = span.get_span_context()
    with trace.use_span(span), log_ids(execution_id=42, job_id="j-1"):
        entry = json.loads(JsonFormatter().format(_record()))
        text = TextFormatter().format(_record())
    assert entry["trace_id"] == format(ctx.trace_id, "032x") and entry["span_id"] == format(ctx.span_id, "016x")
    assert entry["execution_id"] == 42 and entry["job_id"] == "j-1" and entry["msg"] == "hello"
    assert "execution_id=42" in text and "job_id=j-1" in text and not text.startswith("{")
    outside = json.loads(JsonFormatter().format(_record(job_id="j-2")))
    assert "trace_id" not in outside and "execution_id" not in outside and outside["job_id"] == "j-2"


def test_config_refuses_a_trace_url_template_without_the_placeholder_and_unknown_log_formats(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "BASE_DIR", tmp_path)
    monkeypatch.setenv("TRACE_URL_TEMPLATE", "http://jaeger:16686/trace/")
    with pytest.raises(ConfigError, match="TRACE_URL_TEMPLATE"):
        config.Config()
    monkeypatch.setenv("TRACE_URL_TEMPLATE", "http://jaeger:16686/trace/{trace_id}")
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        config.Config()
    monkeypatch.setenv("LOG_FORMAT", "text")
    assert config.Config().LOG_FORMAT == "text"


def _finished_span(name: str = "cron.execute"):
    span = TracerProvider().get_tracer("t").start_span(name)
    span.end()
    return span


def test_span_batches_wait_for_the_fires_in_flight_and_leave_when_they_are_done():
    idle = threading.Event()
    tracing.defer_exports_while_busy(lambda timeout: idle.wait(timeout))
    inner = InMemorySpanExporter()
    exporter = IdleTimeExporter(inner, max_defer_s=30)
    try:
        sender = threading.Thread(target=exporter.export, args=([_finished_span()],))
        sender.start()
        sender.join(0.3)
        assert sender.is_alive() and inner.get_finished_spans() == ()  # held while fires are in flight
        idle.set()
        sender.join(10)
        assert not sender.is_alive()
        assert [s.name for s in inner.get_finished_spans()] == ["cron.execute"]
    finally:
        tracing.defer_exports_while_busy(None)


def test_a_span_batch_waits_at_most_max_defer_under_steady_load_and_not_at_all_outside_a_worker():
    inner = InMemorySpanExporter()
    tracing.defer_exports_while_busy(lambda timeout: threading.Event().wait(timeout))  # never idle
    try:
        IdleTimeExporter(inner, max_defer_s=0.05).export([_finished_span("a")])
    finally:
        tracing.defer_exports_while_busy(None)
    IdleTimeExporter(inner, max_defer_s=3600).export([_finished_span("b")])  # no executor: no wait
    assert [s.name for s in inner.get_finished_spans()] == ["a", "b"]


def test_batch_loops_skip_instrumentation_but_the_threads_they_start_are_traced():
    seen: dict[str, bool] = {}
    with untraced_batch_io():
        seen["loop"] = is_instrumentation_enabled()
        fire = threading.Thread(target=lambda: seen.setdefault("fire thread", is_instrumentation_enabled()))
        fire.start()
        fire.join(10)
    seen["after"] = is_instrumentation_enabled()
    assert seen == {"loop": False, "fire thread": True, "after": True}


@pytest.fixture()
def worker_tracing(monkeypatch):
    """The SDK as a worker has it, exporting in memory, with an executor whose fires are in flight until `idle`."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "_provider", provider)
    monkeypatch.setattr(tracing, "_tracer_of_provider", provider.get_tracer("t"))
    monkeypatch.setattr(tracing, "_defer_max_s", 30.0)
    idle = threading.Event()
    tracing.defer_exports_while_busy(lambda timeout: idle.wait(timeout))
    yield exporter, idle
    tracing.defer_exports_while_busy(None)


def _fire(execution_id: int) -> Fire:
    job = JobSnapshot(id="job-1", name="nightly", owner_id=None, http_method="GET", endpoint_url="http://t/x",
                      headers={}, body=None, query_params={}, timeout_ms=5000, expected_statuses=None, retry_count=1,
                      concurrency_policy=ConcurrencyPolicy.ALLOW, is_active=True, alert_after_failures=0,
                      auto_disable=False)
    now = datetime.now(UTC)
    return Fire(execution_id=execution_id, job_id=job.id, scheduled_for=now, due_at=now, trigger=Trigger.SCHEDULE,
                attempt=1, job=job, traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")


def test_a_worker_ends_its_fire_spans_after_the_burst_with_the_times_they_really_ended(worker_tracing):
    exporter, idle = worker_tracing

    class Runner:
        @traced_fire
        def run(self, fire: Fire) -> None:
            fire.result = HttpResult(ok=False, status_code=503, headers={}, body="", truncated=False, elapsed_ms=3,
                                     error="HTTP 503", error_class="http_status", transient=True, retry_after_s=None)
            fire.final_status = ExecutionStatus.FAILED

    @traced_recording
    def record(worker_id: str, items: list) -> None:
        for _, f in items:
            f.retry_id = 8

    fire = _fire(7)
    start_fire(fire, fire.traceparent)
    Runner().run(fire)
    record("w", [(RecordKind.FINAL, fire)])
    noted = time.time_ns()
    assert exporter.get_finished_spans() == ()  # fires in flight: nothing ended yet, the context already usable
    assert retry_traceparent(fire).split("-")[1] == "0af7651916cd43dd8448eb211c80319c"

    idle.set()
    spans = wait_for(lambda: exporter.get_finished_spans() if len(exporter.get_finished_spans()) == 2 else None, 10)
    by_name = {s.name: s for s in spans}
    execute, recorded = by_name["cron.execute"], by_name["cron.record"]
    assert execute.end_time <= recorded.start_time <= recorded.end_time <= noted  # when it happened, not later
    assert execute.parent.span_id == 0xb7ad6b7169203331 and recorded.parent.span_id == execute.context.span_id
    assert execute.attributes["cron.status"] == "FAILED" and execute.attributes["http.response.status_code"] == 503
    assert execute.status.status_code.name == "ERROR" and execute.status.description == "HTTP 503"
    assert recorded.attributes["cron.retry.execution_id"] == 8 and recorded.attributes["cron.execution.id"] == 7


def test_span_ends_still_waiting_are_done_by_force_flush_and_at_once_outside_a_worker(worker_tracing):
    exporter, _idle = worker_tracing  # never idle
    fire = _fire(1)
    start_fire(fire, fire.traceparent)
    fire.final_status = ExecutionStatus.SKIPPED
    traced_recording(lambda worker_id, items: None)("w", [(RecordKind.FINAL, fire)])
    assert exporter.get_finished_spans() == ()
    tracing.force_flush()
    assert sorted(s.name for s in exporter.get_finished_spans()) == ["cron.execute", "cron.record"]

    tracing.defer_exports_while_busy(None)  # no executor (a web process, a test): ended at once
    other = _fire(2)
    start_fire(other, other.traceparent)
    other.final_status = ExecutionStatus.SUCCESS
    traced_recording(lambda worker_id, items: None)("w", [(RecordKind.FINAL, other)])
    assert len(exporter.get_finished_spans()) == 4


def test_a_failed_recording_gets_its_error_spans_at_once_and_keeps_no_exception_for_later(worker_tracing):
    exporter, _idle = worker_tracing  # fires in flight: ordinary span work would wait
    fire = _fire(3)
    start_fire(fire, fire.traceparent)
    fire.final_status = ExecutionStatus.SUCCESS

    @traced_recording
    def record(worker_id: str, items: list) -> None:
        raise ConnectionError("database away")

    with pytest.raises(ConnectionError):
        record("w", [(RecordKind.FINAL, fire)])
    [recorded] = exporter.get_finished_spans()
    assert recorded.name == "cron.record" and recorded.status.description == "ConnectionError"
    assert [e.name for e in recorded.events] == ["exception"]
    assert recorded.parent.span_id == fire.span.get_span_context().span_id
