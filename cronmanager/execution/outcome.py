"""The vocabulary of a fire: what is run (Fire, JobSnapshot), how it ended (HttpResult, statuses, error classes).

A leaf module: it imports nothing of the app, so the models, the HTTP client, the store and the hooks
(alerts, metrics, events) can all share these types without import cycles.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.trace import Span

Scrub = Callable[[str | None], str | None]  # masks a job's secret values in text (secrets.vault.scrubber)


class ExecutionStatus(enum.StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    MISSED = "MISSED"


class Trigger(enum.StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"
    RETRY = "retry"
    TEST = "test"
    DEPENDENCY = "dependency"  # an upstream job's fire ended (SPEC §21 `run_after`)

    @property
    def scheduled(self) -> bool:
        """Fires the system made (not a person): these are skipped while the job is disabled."""
        return self in (Trigger.SCHEDULE, Trigger.RETRY, Trigger.DEPENDENCY)


class ConcurrencyPolicy(enum.StrEnum):
    ALLOW = "allow"
    FORBID = "forbid"
    REPLACE = "replace"


class ErrorClass(enum.StrEnum):
    """Machine-readable cause of a failed run, stored in cron_executions.error_class."""

    TIMEOUT = "timeout"
    CONNECTION = "connection"
    DNS = "dns"
    TLS = "tls"
    SSRF = "ssrf"
    INVALID_URL = "invalid_url"
    INVALID_REQUEST = "invalid_request"
    REDIRECT = "redirect"
    PROTOCOL = "protocol"
    HTTP_STATUS = "http_status"
    REPLACED = "replaced"
    WORKER_LOST = "worker_lost"
    ASSERTION = "assertion"  # a response assertion did not hold (execution/assertions.py)
    INTERNAL = "internal"


class RecordKind(enum.StrEnum):
    """What the executor hands the recorder: a fire that started, or one that reached its final state."""

    START = "start"
    FINAL = "final"


@dataclass(frozen=True)
class RequestRecord:
    """The request as actually sent (last hop), with secret-looking header and query values masked."""

    method: str
    url: str
    headers: dict[str, str]
    body_size: int
    body_sha256: str | None


@dataclass(frozen=True)
class Timings:
    """Milliseconds per phase; None where the phase did not happen (a reused connection has no dns/connect/tls)."""

    dns: int | None = None
    connect: int | None = None
    tls: int | None = None
    ttfb: int | None = None
    total: int | None = None


@dataclass(frozen=True)
class HttpResult:
    """Outcome of one request; built for logging and retry decisions, never raised."""

    ok: bool  # status in the expected set (any 2xx when none given)
    status_code: int | None  # None when no response was received
    headers: dict[str, str]  # first 50 response headers, values capped at 1 KiB
    body: str  # utf-8 (errors="replace"), at most max_body bytes before decoding
    truncated: bool  # body was longer than max_body
    elapsed_ms: int  # wall time for the whole exchange, redirects included
    error: str | None  # short human-readable message, never contains header values
    error_class: str | None  # an ErrorClass value (see http_errors' docstring)
    transient: bool  # True if retrying later may help
    retry_after_s: float | None  # parsed Retry-After header, when present
    request: RequestRecord | None = None  # None when nothing could be prepared (or details are off)
    timings: Timings | None = None
    remote_addr: str | None = None  # the address actually connected to

    def scrubbed(self, scrub: Scrub | None) -> HttpResult:
        """This result with the job's secret values masked wherever the target could have echoed them (None: the
        job has none, and the result is kept as it is)."""
        if scrub is None:
            return self
        request = self.request and replace(self.request, url=scrub(self.request.url) or "",
                                           headers={k: scrub(v) or "" for k, v in self.request.headers.items()})
        return replace(self, headers={k: scrub(v) or "" for k, v in self.headers.items()}, body=scrub(self.body) or "",
                       error=scrub(self.error), request=request)


@dataclass(frozen=True)
class JobSnapshot:
    """The job's configuration as it was when the fire was claimed; the fire never reads the live row again."""

    id: str
    name: str
    owner_id: str | None
    http_method: str
    endpoint_url: str
    headers: dict[str, str]
    body: str | None
    query_params: dict[str, str]
    timeout_ms: int
    expected_statuses: list[int] | None
    retry_count: int
    concurrency_policy: ConcurrencyPolicy
    is_active: bool
    alert_after_failures: int
    auto_disable: bool
    version: int = 1
    propagate_trace: bool = True  # send W3C traceparent to the target when tracing is on
    team_id: str | None = None
    assertions: tuple[dict[str, Any], ...] = ()  # response assertions, checked after the status (execution/assertions)

    @classmethod
    def of(cls, job: Any) -> JobSnapshot:
        """From a CronJob row or from a mapping with the same keys (an unsaved configuration under test)."""
        get = job.get if isinstance(job, Mapping) else lambda k, d=None: getattr(job, k, d)
        return cls(
            id=get("id") or "", name=get("name") or "", owner_id=get("owner_id"), team_id=get("team_id"),
            http_method=get("http_method") or "GET", endpoint_url=get("endpoint_url") or "",
            headers=dict(get("headers") or {}), body=get("body"), query_params=dict(get("query_params") or {}),
            timeout_ms=get("timeout_ms") or 30000, expected_statuses=get("expected_statuses") or None,
            retry_count=get("retry_count") or 0,
            concurrency_policy=ConcurrencyPolicy(get("concurrency_policy") or ConcurrencyPolicy.ALLOW),
            is_active=bool(get("is_active", True)), alert_after_failures=get("alert_after_failures") or 0,
            auto_disable=bool(get("auto_disable")), version=get("version") or 1,
            propagate_trace=get("propagate_trace") is not False, assertions=tuple(get("assertions") or ()),
        )


@dataclass
class Fire:
    """One claimed execution row on its way through the executor; the recorder writes what it gathered."""

    execution_id: int
    job_id: str
    scheduled_for: datetime
    due_at: datetime
    trigger: Trigger
    attempt: int
    job: JobSnapshot
    started_at: datetime | None = None
    completed_at: datetime | None = None
    result: HttpResult | None = None
    final_status: ExecutionStatus | None = None
    skip_reason: str | None = None
    retry_id: int | None = None  # the next attempt's row, when a retry was planned
    first_attempt_id: int | None = None  # attempt 1 of this retry chain (None: this row is attempt 1)
    traceparent: str | None = None  # W3C context stored on the row: the trace this attempt continues
    span: Span | None = field(default=None, repr=False, compare=False)  # this attempt's cron.execute (tracing on)
    span_open: bool = False  # until the fire's thread or the recorder, whichever comes first, ends the span
    # masks the job's secrets in what the target sends back, before anything is recorded or published
    scrub: Scrub | None = field(default=None, repr=False, compare=False)

    @property
    def fire_lag_ms(self) -> int | None:
        return int((self.started_at - self.scheduled_for).total_seconds() * 1000) if self.started_at else None

    @property
    def error_message(self) -> str | None:
        return self.skip_reason or (self.result.error if self.result else None)
