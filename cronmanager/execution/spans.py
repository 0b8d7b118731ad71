"""The spans of a fire, built next to it: `cron.place` per placed row (the scheduler), `cron.execute` per attempt
and `cron.record` per written outcome (the worker), and the traceparent a retry row stores.

The SDK, its switches, the deferral of span work until a burst is over (SpanEnds) and the exporter are in
`cronmanager/observability/tracing.py`; this module uses them and the fire's own types (`outcome.py`), so
the observability package needs nothing of the execution package. With tracing off every function here is a
no-op (a fire's `span` stays None).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_http_instrumentation
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from cronmanager.execution.outcome import ExecutionStatus, Fire, RecordKind
from cronmanager.lib.dates import iso
from cronmanager.logging_setup import log_ids
from cronmanager.observability import tracing

log = logging.getLogger("cronmanager.tracing")  # the logger these spans' log lines always had
F = TypeVar("F", bound=Callable[..., Any])


# ---- scheduler: placement ------------------------------------------------------------------------------------
class Placements:
    """One `cron.place` span per fire row; each row gets its traceparent before the INSERT."""

    def __init__(self, rows: list[dict]) -> None:
        self._by_parent: dict[str, tuple[Span, str]] = {}  # traceparent -> (span, job id)
        if not tracing.enabled():
            return
        tracer = tracing.tracer()
        for row in rows:
            span = tracer.start_span("cron.place", kind=SpanKind.PRODUCER, context=otel_context.Context(),
                                     attributes={"cron.job.id": row["cron_job_id"],
                                                 "cron.scheduled_for": iso(row["scheduled_for"]) or "",
                                                 "cron.attempt": row["attempt_number"],
                                                 "cron.trigger": row["trigger"]})
            row["traceparent"] = tracing.traceparent_of(span)
            self._by_parent[row["traceparent"]] = (span, row["cron_job_id"])

    def inserted(self, rows: Iterable[Any]) -> None:
        """Rows as returned by the INSERT (id, ..., traceparent last): the span learns its execution id."""
        for row in rows:
            placed = self._by_parent.pop(row[-1], None) if row[-1] else None
            if placed is None:
                continue
            span, job_id = placed  # a sampled-out span is a NonRecordingSpan: only its context can be read
            span.set_attribute("cron.execution.id", row[0])
            ctx = span.get_span_context()
            log.debug("placed fire", extra={"execution_id": row[0], "job_id": job_id,
                                            "trace_id": format(ctx.trace_id, "032x"),
                                            "span_id": format(ctx.span_id, "016x")})
            span.end()

    def close(self, error: BaseException | None = None) -> None:
        """Fires not inserted were placed by another scheduler already (the unique key refused them)."""
        for span, _ in self._by_parent.values():
            if error is not None:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            else:
                span.set_attribute("cron.duplicate", True)
            span.end()
        self._by_parent.clear()


@contextlib.contextmanager
def placements(rows: list[dict]) -> Iterator[Placements]:
    placing = Placements(rows)
    try:
        yield placing
    except BaseException as err:
        placing.close(err)
        raise
    placing.close()


# ---- worker: claim, call, record --------------------------------------------------------------------------------
_end_lock = threading.Lock()  # the fire's thread and the recorder may both try to end a fire's span


def start_fire(fire: Fire, traceparent: str | None) -> None:
    """At claim time: the `cron.execute` span of this attempt, continuing the trace stored on its row. Its
    attributes are set when it ends (SpanEnds): at claim time the worker may be in a burst."""
    if not tracing.enabled():
        return
    fire.span = tracing.tracer().start_span("cron.execute", kind=SpanKind.CONSUMER,
                                            context=tracing.context_from(traceparent))
    fire.span_open = True


@dataclass(frozen=True, slots=True)
class FireSpanEnd:
    """What ending a fire's `cron.execute` span needs, copied off the fire: the fire itself (its response body
    among it) is not kept alive until the burst is over."""

    span: Span
    ended_ns: int
    job_id: str
    job_name: str
    execution_id: int
    scheduled_for: datetime
    attempt: int
    trigger: str
    status: ExecutionStatus | None
    skip_reason: str | None
    status_code: int | None
    error_class: str | None
    error: str | None

    def close(self) -> None:
        attributes: dict[str, str | int] = {
            "cron.job.id": self.job_id, "cron.job.name": self.job_name, "cron.execution.id": self.execution_id,
            "cron.scheduled_for": iso(self.scheduled_for) or "", "cron.attempt": self.attempt,
            "cron.trigger": self.trigger, "cron.status": str(self.status or "")}
        if self.skip_reason:
            attributes["cron.skip_reason"] = self.skip_reason
        if self.status_code is not None:
            attributes["http.response.status_code"] = self.status_code
        if self.error_class:
            attributes["error.type"] = self.error_class
        self.span.set_attributes(attributes)  # one lock and one pass, not one per attribute
        if self.status == ExecutionStatus.FAILED:
            self.span.set_status(Status(StatusCode.ERROR, (self.skip_reason or self.error or "")[:200]))
        self.span.end(end_time=self.ended_ns)


def _end_fire_span(fire: Fire) -> None:
    """Notes the end now; the span is ended with that time once the burst is over (SpanEnds)."""
    span = fire.span
    if span is None:
        return
    with _end_lock:
        if not fire.span_open:
            return
        fire.span_open = False
    result = fire.result
    tracing.span_ends.later(FireSpanEnd(
        span, time.time_ns(), fire.job_id, fire.job.name, fire.execution_id, fire.scheduled_for, fire.attempt,
        str(fire.trigger), fire.final_status, fire.skip_reason, result.status_code if result else None,
        result.error_class if result else None, result.error if result else None).close)


def traced_fire(run: F) -> F:
    """Decorates the executor's per-fire method `(self, fire)`: its logs carry the fire's ids, its work (and the
    HTTP call's client span) sits under `cron.execute`, and a job that opted out sends no traceparent."""

    @functools.wraps(run)
    def wrapper(self: Any, fire: Fire, *args: Any, **kwargs: Any) -> Any:
        with log_ids(execution_id=fire.execution_id, job_id=fire.job_id):
            span = fire.span
            # attach/detach rather than trace.use_span: the same context, without its exception bookkeeping
            # (a fire ends in an outcome, never an exception) on the path of every fire
            token = otel_context.attach(trace.set_span_in_context(span)) if span is not None else None
            try:
                if span is not None and not fire.job.propagate_trace:
                    with suppress_http_instrumentation():
                        return run(self, fire, *args, **kwargs)
                return run(self, fire, *args, **kwargs)
            finally:
                failed = fire.final_status == ExecutionStatus.FAILED
                log.log(logging.INFO if failed else logging.DEBUG, "fire %s %s", fire.execution_id,
                        fire.final_status, extra={"event": "fire:done"})
                _end_fire_span(fire)
                if token is not None:
                    otel_context.detach(token)

    return wrapper  # type: ignore[return-value]  # functools.wraps keeps the signature


def traced_recording(record: F) -> F:
    """Decorates the batch recorder `(worker_id, items: [(kind, fire)])`: a `cron.record` span per outcome, built
    after the burst from the flush's start and end (SpanEnds)."""

    @functools.wraps(record)
    def wrapper(worker_id: str, items: Sequence[tuple[RecordKind, Fire]], *args: Any, **kwargs: Any) -> Any:
        if not tracing.enabled():
            return record(worker_id, items, *args, **kwargs)
        finals = [fire for kind, fire in items if kind == RecordKind.FINAL]
        for fire in finals:
            _end_fire_span(fire)  # fires skipped at claim time never ran
        started = time.time_ns()
        error: BaseException | None = None
        try:
            return record(worker_id, items, *args, **kwargs)
        except BaseException as err:
            error = err
            raise
        finally:
            ended = time.time_ns()
            for fire in finals:
                if fire.span is None:
                    continue
                span = RecordSpan(fire.span, started, ended, fire.job_id, fire.execution_id, fire.attempt,
                                  fire.final_status, fire.retry_id)
                if error is None:
                    tracing.span_ends.later(span.build)
                else:  # at once: a kept exception would keep the flush's fires alive through its traceback
                    span.build(error)

    return wrapper  # type: ignore[return-value]  # functools.wraps keeps the signature


@dataclass(frozen=True, slots=True)
class RecordSpan:
    """A `cron.record` span to build: the flush's start and end, and what it wrote of one fire."""

    parent: Span
    started_ns: int
    ended_ns: int
    job_id: str
    execution_id: int
    attempt: int
    status: ExecutionStatus | None
    retry_id: int | None

    def build(self, error: BaseException | None = None) -> None:
        span = tracing.tracer().start_span(
            "cron.record", context=trace.set_span_in_context(self.parent), start_time=self.started_ns,
            attributes={"cron.job.id": self.job_id, "cron.execution.id": self.execution_id,
                        "cron.attempt": self.attempt, "cron.status": str(self.status or "")})
        if error is not None:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        elif self.retry_id is not None:
            span.set_attribute("cron.retry.execution_id", self.retry_id)
        span.end(end_time=self.ended_ns)


def retry_traceparent(fire: Fire) -> str | None:
    """The context a retry row stores: the failed attempt's span, so the next attempt joins the same trace."""
    return tracing.traceparent_of(fire.span)
