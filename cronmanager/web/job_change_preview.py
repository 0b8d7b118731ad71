"""The edit form's "Preview changes": what saving would change, through the same dry run as `?dry_run=true`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cronmanager.auth.principal import Principal
from cronmanager.jobs import service
from cronmanager.models import CronJob

# computed or bookkeeping fields: they follow from the change, the list shows the change itself
_NOT_SHOWN = frozenset({"updated_at", "updated_by", "version", "next_run_at", "status", "consecutive_failures",
                        "last_run_at", "created_at", "created_by", "snoozed_until", "health", "description_text"})
_MAX_VALUE = 300


@dataclass(frozen=True)
class FieldChange:
    name: str
    old: str
    new: str


@dataclass(frozen=True)
class ChangePreview:
    changes: list[FieldChange] = field(default_factory=list)
    fires_before: list[str] = field(default_factory=list)
    fires_after: list[str] = field(default_factory=list)
    version_after: int = 0


def _shown(value: Any) -> str:
    text = "—" if value is None or value == "" else value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= _MAX_VALUE else text[:_MAX_VALUE] + "…"


def preview(p: Principal, job: CronJob, data: dict[str, Any], reason: str | None) -> ChangePreview:
    """Raises the service's ApiError exactly as saving would."""
    before: dict[str, Any] = dict(service.job_json(job))
    result = service.dry_run(p, job, data, reason, source="dashboard")
    after: dict[str, Any] = dict(result["job"])
    changes = [FieldChange(k, _shown(before.get(k)), _shown(after.get(k))) for k in after
               if k not in _NOT_SHOWN and before.get(k) != after.get(k)]
    return ChangePreview(changes, result["fires_before"], result["fires_after"], result["job"]["version"])
