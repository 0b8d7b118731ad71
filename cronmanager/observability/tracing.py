"""OpenTelemetry tracing: off unless an OTLP endpoint is set, then one trace per fire.

Configuration is the SDK's own: `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) switches it on,
`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER(_ARG)`, `OTEL_EXPORTER_OTLP_HEADERS`,
`OTEL_BSP_*` mean what the specification says. Without an endpoint no provider is installed: the API's no-op
tracer answers, no instrumentation is applied and nothing leaves the process.

A fire's trace: the scheduler's `cron.place` span (one per fire, a new trace) → its W3C traceparent is stored
on the execution row → the worker's `cron.execute` span continues it (claim, wait for the due instant, the
HTTP call, whose client span comes from the requests instrumentation and sends `traceparent` to the target
unless the job opts out) → `cron.record` when the outcome is written. A retry row stores the failed
attempt's context, so every attempt of a fire stays in one trace. Manual runs continue the web request's trace.
In a worker, what can wait (ending `cron.execute`, building `cron.record`, exporting) waits until its fires in
flight are done (SpanEnds, IdleTimeExporter): a burst is CPU-bound, and only the fire's context is needed inline.

This module is the SDK's side (switches, sampler, exporter, redaction, trace context, the deferred span work);
the fire's spans themselves are built next to the fire, in `cronmanager/execution/spans.py`, so nothing here
imports the execution package.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import current_app
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from cronmanager.logging_setup import TRACE_ENVIRON
from cronmanager.secrets import fields

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger("cronmanager.tracing")
TRACER = "cronmanager"
_propagator = TraceContextTextMapPropagator()
_provider: TracerProvider | None = None
_tracer_of_provider: trace.Tracer | None = None
_wait_idle: Callable[[float], bool] | None = None  # the executor's, in a worker process
_defer_max_s = 0.0
_lock = threading.Lock()


# ---- switching on -------------------------------------------------------------------------------------------
def otlp_configured(environ: dict[str, str] | os._Environ = os.environ) -> bool:
    """The OTel SDK's switches: an OTLP endpoint set, the SDK not disabled, the exporter not `none`."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return bool(environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def enabled() -> bool:
    return _provider is not None


def init_tracing(app: Flask) -> None:
    """Called by create_app: the viewer's trace link always; the SDK and instrumentations only when configured."""
    app.jinja_env.globals["trace_url"] = trace_url
    if not otlp_configured():
        return
    _install_provider(app.config["OTEL_BSP_MAX_QUEUE_SIZE"], app.config["TRACE_EXPORT_DEFER_MAX_S"])
    FlaskInstrumentor().instrument_app(app, request_hook=_web_request_hook, response_hook=_web_response_hook)


def trace_url(trace_id: str | None) -> str | None:
    """The viewer's link: TRACE_URL_TEMPLATE (a Jaeger, DataDog, ... URL with `{trace_id}`) filled in."""
    template = current_app.config.get("TRACE_URL_TEMPLATE", "")
    return template.replace("{trace_id}", trace_id) if template and trace_id else None


def _install_provider(max_queue_size: int, defer_max_s: float) -> None:
    """Once per process (gunicorn workers and CLI processes each build their own app after forking)."""
    global _provider, _tracer_of_provider, _defer_max_s
    with _lock:
        if _provider is not None:
            return
        _defer_max_s = defer_max_s
        resource = Resource.create({})  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: "cronmanager"}))
        # the SDK's own parser of OTEL_TRACES_SAMPLER(_ARG) (default parentbased_always_on)
        sampler = OrphanClientSpansDropped(sampling._get_from_env_or_default())
        provider = TracerProvider(resource=resource, sampler=sampler)
        # the queue holds a burst's spans while IdleTimeExporter waits for the burst to end
        provider.add_span_processor(BatchSpanProcessor(IdleTimeExporter(OTLPSpanExporter(), defer_max_s),
                                                       max_queue_size=max_queue_size))
        trace.set_tracer_provider(provider)
        RequestsInstrumentor().instrument(request_hook=_client_request_hook)
        RedisInstrumentor().instrument()
        # declared for SQLAlchemy < 2.1; its engine events are unchanged in 2.1 (checked by tests/observability)
        SQLAlchemyInstrumentor().instrument(skip_dep_check=True)
        _tracer_of_provider = provider.get_tracer(TRACER)
        _provider = provider


def defer_exports_while_busy(wait_idle: Callable[[float], bool] | None) -> None:
    """The executor's `wait_idle(timeout)`: span batches and the ends of its spans wait for its fires to finish
    (see IdleTimeExporter and SpanEnds). None (the executor stopping) finishes what waits at once."""
    global _wait_idle
    _wait_idle = wait_idle
    if wait_idle is None:
        span_ends.finish()
    elif enabled():
        span_ends.start()


def _wait_until_idle(max_s: float) -> None:
    """Until this worker's fires in flight are done, at most `max_s`; at once outside a worker."""
    wait_idle = _wait_idle
    if wait_idle is not None and max_s > 0:
        wait_idle(max_s)


class SpanEnds:
    """The worker's span work that can wait for the quiet after a burst: ending `cron.execute` and building the
    `cron.record` spans, each with the time it really happened.

    A burst of same-second fires is CPU-bound in the worker (one GIL), so every microsecond a fire's thread or
    the recorder spends on a span delays the fires behind it. Only what a fire's request needs stays inline: the
    `cron.execute` span's context (the HTTP client span's parent and the traceparent sent to the target). The
    rest is queued as small records and done by a thread of its own once the executor has no fire in flight, or
    after `TRACE_EXPORT_DEFER_MAX_S` under steady load. Outside a worker (no executor) it is done at once.
    """

    def __init__(self) -> None:
        self._work: deque[Callable[[], None]] = deque()
        self._queued = threading.Event()
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()

    def start(self) -> None:
        with self._thread_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="span-ends", daemon=True)
                self._thread.start()

    def later(self, work: Callable[[], None]) -> None:
        if _wait_idle is None:
            work()
            return
        self._work.append(work)
        self._queued.set()

    def finish(self) -> None:
        """Everything queued, now (the drain thread after a burst, force_flush, executor shutdown)."""
        while True:
            try:
                work = self._work.popleft()
            except IndexError:
                return
            try:
                work()
            except Exception:  # one broken span must not strand the others
                log.exception("could not end a span")

    def _run(self) -> None:
        while True:
            self._queued.wait()
            self._queued.clear()
            _wait_until_idle(_defer_max_s)
            self.finish()


span_ends = SpanEnds()  # the fire spans' deferred work (`cronmanager/execution/spans.py`)


class IdleTimeExporter(SpanExporter):
    """Holds each batch while this process has fires in flight, for at most `max_defer_s`.

    Encoding a span for OTLP costs about as much CPU as creating it, and a burst of same-second fires is
    CPU-bound: exported during the burst, the spans would delay the fires they describe. Waiting moves that
    work into the quiet after the burst; under steady load a batch leaves at the latest after `max_defer_s`.
    """

    def __init__(self, inner: SpanExporter, max_defer_s: float) -> None:
        self.inner = inner
        self.max_defer_s = max_defer_s

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        _wait_until_idle(self.max_defer_s)
        return self.inner.export(spans)

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


class OrphanClientSpansDropped(sampling.Sampler):
    """Drops database/Redis/HTTP client spans that have no parent, then defers to the configured sampler.

    The scheduler polls Redis and the database five times a second and the worker heartbeats: as roots those
    calls would each be a trace of one span, drowning the fires. Inside a fire or a web request they are kept.
    """

    def __init__(self, base: sampling.Sampler) -> None:
        self.base = base

    def should_sample(self, parent_context: otel_context.Context | None, trace_id: int, name: str,
                      kind: SpanKind | None = None, attributes: Any = None, links: Any = None,
                      trace_state: Any = None) -> sampling.SamplingResult:
        parent = trace.get_current_span(parent_context).get_span_context()
        if kind is SpanKind.CLIENT and not parent.is_valid:
            return sampling.SamplingResult(sampling.Decision.DROP)
        return self.base.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"OrphanClientSpansDropped{{{self.base.get_description()}}}"


@contextlib.contextmanager
def untraced_batch_io() -> Iterator[None]:
    """For the loops that serve many fires at once (RQ's loop and the claim, the recorder, heartbeats, the
    scheduler): their database and Redis calls have no parent span, so the sampler would drop them anyway;
    suppressed, the instrumentations skip even building them. Threads started inside begin unsuppressed
    (a new thread has a fresh context), so a fire's own calls stay traced. Also a decorator."""
    with suppress_instrumentation():
        yield


# ---- secrets never reach a span ---------------------------------------------------------------------------
def redact_url(url: str) -> str:
    """Secret-looking query values (`?token=` on our API, `api_key=` on a target) and any userinfo as `***`: the
    job secrets' one rule (cronmanager/secrets/fields.py)."""
    return fields.split_url(url)[0]


@functools.lru_cache(maxsize=1024)
def _span_url(url: str) -> str:
    """redact_url for the client span of every fire: a job calls the same URL each time, so it is parsed once."""
    return redact_url(url)


def _redact_span_urls(span: Span) -> None:
    attributes = getattr(span, "attributes", None) or {}
    masked: dict[str, str] = {}
    for key in ("http.url", "url.full", "http.target"):
        value = attributes.get(key)
        if isinstance(value, str) and ("?" in value or "@" in value):  # else nothing there can be secret
            masked[key] = _span_url(value)
    query = attributes.get("url.query")
    if isinstance(query, str):
        masked["url.query"] = urlsplit(_span_url("?" + query)).query
    changed = {key: value for key, value in masked.items() if value != attributes.get(key)}
    if changed:
        span.set_attributes(changed)


def _web_request_hook(span: Span, environ: dict) -> None:
    ctx = span.get_span_context()
    if ctx.is_valid:
        environ[TRACE_ENVIRON] = (format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"))


def _web_response_hook(span: Span, status: str, response_headers: list) -> None:
    _redact_span_urls(span)  # not in the request hook: the instrumentation sets the URL attributes after it


def _client_request_hook(span: Span, request: Any) -> None:
    _redact_span_urls(span)


# ---- trace context carried by execution rows ------------------------------------------------------------------
def traceparent_of(span: Span | None) -> str | None:
    if span is None or not span.get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get("traceparent")


def current_traceparent() -> str | None:
    """The current span's context (a web request creating a manual run), or None when tracing is off."""
    return traceparent_of(trace.get_current_span()) if enabled() else None


def context_from(traceparent: str | None) -> otel_context.Context | None:
    return _propagator.extract({"traceparent": traceparent}) if traceparent else None


def tracer() -> trace.Tracer:
    """The tracer of the fire spans (`cronmanager/execution/spans.py`)."""
    return _tracer_of_provider or trace.get_tracer(TRACER)


def force_flush(timeout_ms: int = 5000) -> None:
    """End what waits and export what is buffered (worker shutdown, tests); harmless when tracing is off."""
    span_ends.finish()
    if _provider is not None:
        _provider.force_flush(timeout_ms)
