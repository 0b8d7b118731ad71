"""A job's alert policy (SPEC §19): what is worth an alert, and what to do when a fire's retries are used up.

Each field a job leaves NULL comes from its team's `alert_defaults`, else from the settings (ALERT_ON,
ALERT_ON_EXHAUSTED), so a team can change the policy of all its jobs in one place. A team's defaults cover
`alert_on`, `on_exhausted`, the channels and the thresholds that do not depend on one job's schedule
(`failure_rate_pct`, `failure_rate_window`, `max_duration_ms`); `late_after_s` stays per job.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_FAILURE_RATE_PCT = 50
DEFAULT_FAILURE_RATE_WINDOW = 10


class AlertOn(enum.StrEnum):
    EXHAUSTED = "exhausted"  # a fire's final attempt failed
    CONSECUTIVE = "consecutive"  # more than alert_after_failures fires in a row failed
    FAILURE_RATE = "failure_rate"  # over failure_rate_pct of the last failure_rate_window fires failed
    SLOW = "slow"  # a run took longer than max_duration_ms
    LATE = "late"  # a slot missed (not started in time)
    SLO = "slo"  # the error budget burns too fast


class OnExhausted(enum.StrEnum):
    ALERT = "alert"
    DISABLE = "disable"


class Severity(enum.StrEnum):
    """`critical` alerts also reach the global channels."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


SEVERITY = {AlertOn.EXHAUSTED: Severity.CRITICAL, AlertOn.CONSECUTIVE: Severity.CRITICAL,
            AlertOn.FAILURE_RATE: Severity.WARNING, AlertOn.SLOW: Severity.WARNING, AlertOn.LATE: Severity.WARNING,
            AlertOn.SLO: Severity.WARNING}


@dataclass(frozen=True)
class Policy:
    alert_on: frozenset[AlertOn]
    on_exhausted: OnExhausted
    alert_after_failures: int
    failure_rate_pct: int
    failure_rate_window: int
    max_duration_ms: int | None
    late_after_s: int | None


class PolicySettingError(ValueError):
    """ALERT_ON names a kind that does not exist."""


def parse_alert_on(raw: str | list[str]) -> frozenset[AlertOn]:
    items = [x.strip() for x in raw.split(",")] if isinstance(raw, str) else list(raw)
    try:
        return frozenset(AlertOn(x) for x in items if x)
    except ValueError as err:
        raise PolicySettingError(f"ALERT_ON: {err}; choose from {', '.join(AlertOn)}") from None


def effective(job: Any, team_defaults: Mapping[str, Any] | None, settings: Mapping[str, Any]) -> Policy:
    """The policy a job runs under: its own fields, else its team's defaults, else the settings."""
    team = team_defaults or {}
    alert_on = job.alert_on if job.alert_on is not None else team.get("alert_on")
    on_exhausted = job.on_exhausted or team.get("on_exhausted") or settings.get("ALERT_ON_EXHAUSTED", "alert")
    return Policy(
        alert_on=parse_alert_on(alert_on) if alert_on is not None else parse_alert_on(
            settings.get("ALERT_ON", "exhausted")),
        on_exhausted=OnExhausted(on_exhausted),
        alert_after_failures=job.alert_after_failures if job.alert_after_failures is not None else 3,
        failure_rate_pct=job.failure_rate_pct or team.get("failure_rate_pct") or DEFAULT_FAILURE_RATE_PCT,
        failure_rate_window=job.failure_rate_window or team.get("failure_rate_window") or DEFAULT_FAILURE_RATE_WINDOW,
        max_duration_ms=job.max_duration_ms or team.get("max_duration_ms"),
        late_after_s=job.late_after_s,
    )
