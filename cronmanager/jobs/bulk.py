"""Batch actions of the dashboard as one API call each, so a batch is one audited action listing its ids."""

from __future__ import annotations

import functools

from flask import Blueprint, jsonify
from pydantic import BaseModel, Field

from cronmanager.api import after_commit, audit_resource
from cronmanager.api.openapi import StrictModel, responses, spec
from cronmanager.api.security import endpoint, principal
from cronmanager.audit.changes import note
from cronmanager.auth import visibility
from cronmanager.extensions import db
from cronmanager.jobs import service
from cronmanager.models.row_locks import lock_jobs

jobs_bulk_api = Blueprint("jobs_bulk_api", __name__, url_prefix="/cron")

MAX_BATCH = 500


class BulkIds(StrictModel):
    ids: list[str] = Field(min_length=1, max_length=MAX_BATCH)


class BulkDeleteOut(BaseModel):
    deleted: list[str]
    count: int


@jobs_bulk_api.post("/bulk-delete")
@endpoint("delete", "cron.bulk_delete")
@spec.validate(json=BulkIds, resp=responses("HTTP_404", "HTTP_422", HTTP_200=BulkDeleteOut), tags=["jobs"])
def bulk_delete(json: BulkIds):
    """Delete several jobs at once: all of them or none (one you may not manage is a 404/403 and nothing goes).

    The audit row (`cron.bulk_delete`) lists every deleted id and name in its changes.
    """
    p = principal()
    ids = list(dict.fromkeys(i.strip().lower() for i in json.ids))
    jobs = [visibility.get_manageable(p, job_id) for job_id in ids]
    audit_resource("cron", f"{len(jobs)} jobs")
    gone = [{"id": j.id, "owner_id": j.owner_id, "name": j.name} for j in jobs]
    note({"deleted": {"old": [{"id": g["id"], "name": g["name"]} for g in gone], "new": None}})
    lock_jobs((j.id for j in jobs), delete=True)  # the one lock order, before the deletes take theirs in list order
    for job in jobs:
        db.session.delete(job)
    db.session.flush()
    for data in gone:
        after_commit(functools.partial(service.publish_job_event, "cron:deleted", data))
    return jsonify({"deleted": [g["id"] for g in gone], "count": len(gone)})
