"""Jobs as code over the API (SPEC §17): GET /cron/export and POST /cron/import?mode=plan|apply."""

from __future__ import annotations

from typing import Any, Literal

from flask import Blueprint, Response, g, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from cronmanager.api import after_commit, takes_documents
from cronmanager.api.openapi import QueryModel, amend_document, component_ref, responses, spec
from cronmanager.api.security import endpoint, principal
from cronmanager.auth.principal import Principal
from cronmanager.errors import ApiError
from cronmanager.extensions import db
from cronmanager.jobs import portable
from cronmanager.models import User
from cronmanager.teams import service as teams

jobs_portable_api = Blueprint("jobs_portable_api", __name__, url_prefix="/cron")


class ExportQuery(QueryModel):
    format: Literal["yaml", "json"] = "yaml"
    owner_id: str | None = Field(default=None, max_length=36)
    team_id: str | None = Field(default=None, max_length=36, description="a team's jobs (a member's export)")


class ImportQuery(QueryModel):
    mode: Literal["plan", "apply"] = "plan"
    prune: bool = False
    owner_id: str | None = Field(default=None, max_length=36)
    team_id: str | None = Field(default=None, max_length=36,
                                description="match names among this team's jobs (an owner or editor of it)")


class PlanUpdateOut(BaseModel):
    name: str
    changes: dict[str, list[Any]]


class PlanErrorOut(BaseModel):
    name: str
    fields: dict[str, str]


class JobsDocument(BaseModel):
    """What the export writes and the import reads (YAML or JSON); the fields of a job are checked per job."""

    model_config = ConfigDict(extra="forbid")

    version: portable.FormatVersion
    jobs: list[dict[str, Any]] = Field(description="each job as exported: the fields of POST /cron")


class PlanOut(BaseModel):
    create: list[str]
    update: list[PlanUpdateOut]
    delete: list[str]
    unchanged: int
    errors: list[PlanErrorOut]


def acts_for_others(p: Principal) -> bool:
    """Admin powers need the ADMIN role and, for a token, the admin scope."""
    return p.is_admin


def target_owner(p: Principal, owner_id: str | None) -> User:
    if owner_id is None or owner_id == p.user.id:
        return p.user
    if not acts_for_others(p):
        raise ApiError(403, "Only an administrator (with the admin scope) can work on another user's jobs")
    owner = db.session.get(User, owner_id)
    if owner is None:
        raise ApiError(404, "No such user", fields={"owner_id": "no such user"})
    return owner


@jobs_portable_api.get("/export")
@endpoint("read", "cron.export")
@spec.validate(query=ExportQuery, resp=responses("HTTP_404", "HTTP_422", HTTP_200=None), tags=["jobs"])
def export_jobs(query: ExportQuery):
    """Your jobs as one document (`version`, `jobs` sorted by name), secrets as `***`: a file that diffs well.

    ADMIN: every job, or one owner's with `owner_id`; a team's with `team_id` (its members).
    """
    p = principal()
    team_id = query.team_id or p.team_id
    if team_id is not None:
        team_id = teams.get_team(p, team_id)[0].id
        owner_id = None
    else:
        owner_id = None if query.owner_id is None and acts_for_others(p) else target_owner(p, query.owner_id).id
    fmt = portable.DocumentFormat(query.format)
    body = portable.render(portable.export_document(portable.jobs_of(owner_id, team_id)), fmt)
    response = Response(body, mimetype=portable.MEDIA_TYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="cron-jobs.{fmt.value}"'
    return response


@amend_document
def _document_export(doc: dict[str, Any]) -> None:
    """The export answers the document itself, as `format` asks: spectree knows only JSON bodies it validates."""
    operation = doc["paths"].get("/api/v1/cron/export", {}).get("get")
    if operation is None:
        return
    document = component_ref(doc, JobsDocument)
    operation["responses"]["200"].update({
        "description": "the document (`format=yaml`, the default, or `format=json`), as an attachment",
        "headers": {"Content-Disposition": {"description": 'attachment; filename="cron-jobs.yaml" (or .json)',
                                            "schema": {"type": "string"}}},
        "content": {"application/json": {"schema": document}, "application/yaml": {"schema": document}},
    })


@amend_document
def _document_import_body(doc: dict[str, Any]) -> None:
    """The import reads its body itself (YAML or JSON): the envelope is checked strictly (422), each job as
    POST /cron checks it, its errors listed in the plan (so a job entry is any mapping here)."""
    operation = doc["paths"].get("/api/v1/cron/import", {}).get("post")
    if operation is None:
        return
    document = component_ref(doc, JobsDocument)
    operation["requestBody"] = {"required": True, "description": "the export document, at most "
                                f"{portable.MAX_DOCUMENT_BYTES // 1024} KiB",
                                "content": {"application/yaml": {"schema": document},
                                            "application/json": {"schema": document}}}


@jobs_portable_api.post("/import")
@endpoint("write", "cron.import")
@spec.validate(query=ImportQuery, resp=responses("HTTP_404", "HTTP_413", "HTTP_415", "HTTP_422", HTTP_200=PlanOut),
               tags=["jobs"])
@takes_documents
def import_jobs(query: ImportQuery):
    """Match the document's jobs by name among yours (ADMIN: `owner_id`'s) and show (`plan`) or make (`apply`)
    the changes. Body: the export document as application/yaml or application/json. `apply` is all or nothing:
    200 with the plan it applied, or 422 with the errors and nothing changed. `prune=true` also deletes jobs
    missing from the document (needs the delete scope)."""
    p = principal()
    if query.prune and "delete" not in p.scopes:
        raise ApiError(403, "prune deletes jobs: this needs the 'delete' scope, which the credential lacks")
    owner = target_owner(p, query.owner_id)
    team_id = query.team_id or p.team_id
    if team_id is not None:
        teams.require_job_editor(p, team_id)
    entries = portable.parse_document(request.get_data(cache=True), portable.format_for(request.mimetype))
    if query.mode == "apply":
        portable.lock_owner(owner, team_id)
    plan = portable.build_plan(entries, owner, prune=query.prune, team_id=team_id)
    g.audit_payload = portable.audit_payload(plan, mode=query.mode, prune=query.prune, owner=owner, source="api")
    result = plan.to_json()
    if query.mode == "plan":
        return jsonify(result)
    if not plan.ok:
        fields = {f"{e.name}.{k}": v for e in plan.errors for k, v in e.fields.items()}
        message = f"{len(plan.errors)} job(s) in the document have errors; nothing was changed"
        return jsonify({"error": {"code": "validation_error", "message": message, "fields": fields},
                        "errors": result["errors"]}), 422
    events = portable.apply_plan(p, plan, owner, source="api")
    after_commit(lambda: portable.publish_events(events))
    return jsonify(result)
