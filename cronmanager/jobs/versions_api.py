"""GET /api/v1/cron/<id>/versions/<n>: what a job was configured to do at version n (SPEC §5, masked)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify
from pydantic import BaseModel
from sqlalchemy import select

from cronmanager.api import audit_resource
from cronmanager.api.openapi import responses, spec
from cronmanager.api.security import endpoint, principal
from cronmanager.auth import visibility
from cronmanager.errors import ApiError
from cronmanager.extensions import db
from cronmanager.jobs.versions import config_diff, config_of, version_config
from cronmanager.models.job_version import JobVersion

job_versions_api = Blueprint("job_versions_api", __name__, url_prefix="/cron")


class VersionChange(BaseModel):
    field: str
    old: Any = None
    new: Any = None


class JobVersionOut(BaseModel):
    job_id: str
    version: int
    current_version: int
    created_at: datetime | None
    changed_by: str | None
    config: dict[str, Any]
    changes_to_current: list[VersionChange]


@job_versions_api.get("/<uuid:job_id>/versions/<int:version>")
@endpoint("read", "cron.version")
@spec.validate(resp=responses("HTTP_404", HTTP_200=JobVersionOut), tags=["jobs"])
def get_version(job_id: str, version: int):
    """One configuration version (secret-looking header and query values masked) and what changed since."""
    job = visibility.get_visible(principal(), job_id)
    audit_resource("cron", job.id)
    config = version_config(job, version)
    if config is None:
        raise ApiError(404, f"Job {job.id} has no version {version} (current version {job.version})")
    row = db.session.execute(select(JobVersion.created_at, JobVersion.changed_by).where(
        JobVersion.cron_job_id == job.id, JobVersion.version == version)).first()
    return jsonify({
        "job_id": job.id, "version": version, "current_version": job.version,
        "created_at": row.created_at if row else None, "changed_by": row.changed_by if row else None,
        "config": config,
        "changes_to_current": [{"field": f, "old": old, "new": new}
                               for f, old, new in config_diff(config, config_of(job))],
    })
