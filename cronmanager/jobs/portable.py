"""Jobs as code (SPEC §17): the portable document, its parsing, the plan against stored jobs, and its apply.

Export reads jobs through the API's own serialisation (`service.job_json`) and apply writes through the job
service, so validation, next_run_at, schedule history and secret handling keep one home. The API, the CLI and
the dashboard all go through `build_plan` and `apply_plan`.
"""

from __future__ import annotations

import copy
import enum
import gc
import json
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml
from flask import current_app
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from cronmanager.auth.principal import Principal
from cronmanager.errors import ApiError
from cronmanager.events.publisher import JobEvent, publish_many
from cronmanager.extensions import db, redis_client
from cronmanager.jobs import dependencies, portable_deps, service
from cronmanager.jobs.schemas import JobCreate
from cronmanager.lib.json_depth import too_deep
from cronmanager.models import CronJob, Team, User
from cronmanager.models.types import new_id
from cronmanager.secrets import vault
from cronmanager.secrets.names import MASK

FormatVersion = Literal[1]
FORMAT_VERSION: FormatVersion = 1
MAX_DOCUMENT_BYTES = 1024 * 1024
IMPORT_REASON = "import"
SECRET_CHANGED = "*** (changed)"  # shown as the new value in a plan when only a secret's value differs
DOCUMENT = "(document)"  # the name an error carries when it is about the whole document, not one job

# The one list of what a job document holds, in the order it is written. Fields that other features add to the
# model join through OPTIONAL_FIELDS: they are exported as soon as the model has them.
BASE_FIELDS: tuple[str, ...] = (
    "name", "description", "cron_expression", "timezone", "endpoint_url", "http_method", "headers",
    "query_params", "body", "is_active", "retry_count", "timeout_ms", "concurrency_policy", "misfire_grace_s",
    "expected_statuses", "alert_after_failures",
)
# the alert policy travels with the job; its channel ids do not (they name channels of this installation)
OPTIONAL_FIELDS: tuple[str, ...] = ("throttle_factor", "spread_offset_s", "propagate_trace", "alert_on", "on_exhausted",
                                    "failure_rate_pct", "failure_rate_window", "max_duration_ms", "late_after_s",
                                    "assertions", "run_after",  # run_after by name: portable_deps
                                    # a calendar of this installation: elsewhere an unknown id is refused, naming it
                                    "calendar_id", "calendar_policy")
LEGACY_FIELDS: tuple[str, ...] = ("auto_disable",)  # read from older documents, folded into on_exhausted
PORTABLE_FIELDS: tuple[str, ...] = BASE_FIELDS + tuple(f for f in OPTIONAL_FIELDS if hasattr(CronJob, f))
_MAPS = ("headers", "query_params")


class DocumentFormat(enum.StrEnum):
    YAML = "yaml"
    JSON = "json"


MEDIA_TYPES = {
    DocumentFormat.YAML: "application/yaml",
    DocumentFormat.JSON: "application/json",
}
_YAML_MEDIA_TYPES = {"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"}

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]  # libyaml's if installed
    """Safe dumper that writes multi-line text (bodies, descriptions) as literal blocks: they diff line by line."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def format_for(media_type: str | None) -> DocumentFormat:
    """YAML for the YAML media types, JSON for JSON; anything else is refused (415)."""
    media_type = (media_type or "").lower()
    if media_type in _YAML_MEDIA_TYPES:
        return DocumentFormat.YAML
    if media_type == "application/json" or media_type.endswith("+json"):
        return DocumentFormat.JSON
    raise ApiError(415, "Send the document as application/yaml or application/json")


# ---- export -----------------------------------------------------------------------------------------------------

def _masked(values: dict[str, Any]) -> dict[str, Any]:
    """Maps sorted by key: a stable, shareable view. Secrets are `***` in the stored columns already (the vault)."""
    out = dict(values)
    for key in _MAPS:
        if key in out:
            out[key] = dict(sorted((out[key] or {}).items()))
    return out


def portable_view(job: CronJob) -> dict[str, Any]:
    """The job as the API shows it, reduced to the portable fields."""
    data: Mapping[str, Any] = service.job_json(job)
    return _masked({f: data[f] if f in data else getattr(job, f) for f in PORTABLE_FIELDS})


def export_document(jobs: list[CronJob]) -> dict[str, Any]:
    ordered = sorted(jobs, key=lambda j: (j.name, j.id))
    views = [portable_view(j) for j in ordered]
    portable_deps.named(views, ordered)
    return {"version": FORMAT_VERSION, "jobs": views}


def render(document: dict[str, Any], fmt: DocumentFormat) -> str:
    if fmt is DocumentFormat.JSON:
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False,
                     width=4096)


def lock_owner(owner: User, team_id: str | None = None) -> None:
    """Serialise applies per owner (a team, else a user): two at once could both create the same name (PostgreSQL
    row lock; SQLite already has one writer at a time)."""
    if team_id is not None:
        db.session.execute(select(Team.id).where(Team.id == team_id).with_for_update())
    else:
        db.session.execute(select(User.id).where(User.id == owner.id).with_for_update())


def jobs_of(owner_id: str | None, team_id: str | None = None) -> list[CronJob]:
    """A team's jobs, one user's personal jobs, or every job when both are None (an ADMIN's export)."""
    stmt = select(CronJob).options(selectinload(CronJob.run_after_rows)).order_by(CronJob.name, CronJob.id)
    if team_id is not None:
        stmt = stmt.where(CronJob.team_id == team_id)
    elif owner_id is not None:
        stmt = stmt.where(CronJob.owner_id == owner_id, CronJob.team_id.is_(None))
    return list(db.session.execute(stmt).scalars())


# ---- parsing ----------------------------------------------------------------------------------------------------

def _load_yaml(text: str) -> Any:
    """PyYAML's safe loader only. Anchors and aliases are refused before anything is built, so an alias bomb
    ("billion laughs") never expands, and no tag can construct an object."""
    collecting = gc.isenabled()
    # Loading builds a few hundred thousand small objects at once; the collector's passes over them cost more
    # than the parse (5,000 jobs: 2.1 s with, 0.8 s without). API documents are capped, so the pause is too.
    gc.disable()
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                raise ApiError(400, "YAML anchors and aliases (& and *) are not accepted; write each job out",
                               fields={"document": "anchors and aliases are not accepted"})
        return yaml.load(text, Loader=_Loader)  # _Loader is the safe loader
    except yaml.YAMLError as err:
        raise ApiError(400, f"Not valid YAML: {err}", fields={"document": "not valid YAML"}) from None
    finally:
        if collecting:
            gc.enable()


def parse_document(raw: bytes, fmt: DocumentFormat, *, max_bytes: int | None = MAX_DOCUMENT_BYTES) -> list[Any]:
    """Bytes -> the list of job entries; the envelope is checked here, the jobs by `build_plan`.

    The API caps documents (`max_bytes`); the CLI reads an operator's file of any size.
    """
    if max_bytes is not None and len(raw) > max_bytes:
        raise ApiError(413, f"The document is larger than {max_bytes // 1024} KiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "The document must be UTF-8 text", fields={"document": "not UTF-8"}) from None
    depth = current_app.config["JSON_MAX_DEPTH"]
    if too_deep(raw, depth):  # brackets of JSON and of YAML's flow style; the parsers recurse per level
        raise ApiError(400, f"The document is nested deeper than {depth} levels",
                       fields={"document": "nested too deeply"})
    try:
        if fmt is DocumentFormat.YAML:
            data = _load_yaml(text)
        else:
            try:
                data = json.loads(text)
            except ValueError as err:
                raise ApiError(400, f"Not valid JSON: {err}", fields={"document": "not valid JSON"}) from None
    except RecursionError:  # YAML's block style nests by indentation, which the bracket count does not see
        raise ApiError(400, "The document is nested too deeply", fields={"document": "nested too deeply"}) from None
    if not isinstance(data, dict):
        raise ApiError(422, "The document must be a mapping with `version` and `jobs`",
                       fields={"document": "must be a mapping with version and jobs"})
    fields: dict[str, str] = {str(k): "unknown key (expected version and jobs)" for k in data
                              if k not in ("version", "jobs")}
    if type(data.get("version")) is not int or data["version"] != FORMAT_VERSION:
        fields["version"] = f"must be {FORMAT_VERSION}"
    if not isinstance(data.get("jobs"), list):
        fields["jobs"] = "must be a list of jobs"
    if fields:
        raise ApiError(422, f"Invalid document: {', '.join(sorted(fields))}", fields=fields)
    return data["jobs"]


# ---- plan -------------------------------------------------------------------------------------------------------

@dataclass
class JobError:
    name: str
    fields: dict[str, str]


@dataclass
class Entry:
    """One valid job of the document: every portable field, normalised as the service stores it."""

    name: str
    values: dict[str, Any]
    id: str | None = None  # given up front to a job the plan creates, so others of the document may run after it


@dataclass
class Update:
    job: CronJob
    values: dict[str, Any]  # only the fields that change, in stored form
    changes: dict[str, list[Any]]  # field -> [old, new], secrets masked

    @property
    def name(self) -> str:
        return self.job.name


@dataclass
class Plan:
    create: list[Entry] = field(default_factory=list)
    update: list[Update] = field(default_factory=list)
    delete: list[CronJob] = field(default_factory=list)
    unchanged: int = 0
    errors: list[JobError] = field(default_factory=list)
    team_id: str | None = None  # the plan's jobs are this team's (created jobs join it)
    planned: set[str] = field(default_factory=set)  # the ids of the jobs it creates

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def empty(self) -> bool:
        return not (self.create or self.update or self.delete)

    def to_json(self) -> dict[str, Any]:
        return {
            "create": [e.name for e in self.create],
            "update": [{"name": u.name, "changes": u.changes} for u in self.update],
            "delete": [j.name for j in self.delete],
            "unchanged": self.unchanged,
            "errors": [{"name": e.name, "fields": e.fields} for e in self.errors],
        }


def _label(index: int, raw: Any) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    return name.strip() if isinstance(name, str) and name.strip() else f"jobs[{index}]"


def _defaults(owner: User) -> dict[str, Any]:
    """A field left out of the document means its default: the file describes the whole job."""
    values = {k: copy.deepcopy(v) for k, v in service.DEFAULTS.items() if k in PORTABLE_FIELDS}
    values["timezone"] = owner.timezone or "UTC"
    return values


def _validate(index: int, raw: Any, defaults: dict[str, Any]) -> Entry | JobError:
    """The same checks as POST /cron: the JobCreate model, then the service's semantic rules."""
    label = _label(index, raw)
    if not isinstance(raw, dict):
        return JobError(label, {"job": "must be a mapping of job fields"})
    accepted = PORTABLE_FIELDS + LEGACY_FIELDS
    fields = {str(k): "not a field of an exported job" for k in raw if k not in accepted}
    refs, ref_errors = portable_deps.refs_of(raw.get("run_after"))  # names, not the API's ids: checked there
    fields.update(ref_errors)
    try:
        model = JobCreate.model_validate({k: v for k, v in raw.items() if k in accepted and k != "run_after"})
    except ValidationError as err:
        for item in err.errors():
            fields.setdefault(".".join(str(p) for p in item.get("loc", ())) or "job", item.get("msg", "invalid"))
    if fields:
        return JobError(label, fields)
    given = {k: v for k, v in model.model_dump(exclude_unset=True).items() if v is not None}
    try:
        values = service.normalise({**defaults, **given})  # normalise copies; the defaults stay untouched
    except ApiError as err:
        return JobError(label, err.fields or {"job": err.message})
    if values.get("cron_expression") is None and not refs:
        return JobError(label, {"cron_expression": "required unless run_after names jobs to run after"})
    values["run_after"] = refs
    return Entry(values["name"], values)


def _stored(job: CronJob) -> dict[str, Any]:
    values = {f: getattr(job, f) for f in PORTABLE_FIELDS}
    values["description"] = values["description"] or ""
    for key in _MAPS:
        values[key] = values[key] or {}
    return values


def _keep_secrets(values: dict[str, Any], job: CronJob | None) -> tuple[dict[str, Any], dict[str, str]]:
    """The document's values sealed as PUT seals them: `***` keeps the stored secret, with nothing stored it is an
    error (never a literal), and a new destination needs the secrets again. Returns (sealed values, field errors)."""
    try:
        return vault.seal(values, stored=job), {}
    except ApiError as err:
        return values, dict(err.fields or {"jobs": err.message})


def _changes(stored: dict[str, Any], values: dict[str, Any], secrets: list[str]) -> dict[str, list[Any]]:
    """field -> [old, new], both masked; a secret whose value alone changed (`secrets`, its paths) shows as
    SECRET_CHANGED."""
    touched = {path.split(".", 1)[0] for path in secrets}
    changed = [key for key in PORTABLE_FIELDS if key in values and (values[key] != stored[key] or key in touched)]
    old_view = _masked({key: stored[key] for key in changed})
    new_view = _masked({key: values[key] for key in changed})
    changes: dict[str, list[Any]] = {}
    for key in changed:
        old, new = old_view[key], new_view[key]
        if key in _MAPS:
            new = {k: (SECRET_CHANGED if v == MASK and f"{key}.{k}" in secrets else v) for k, v in new.items()}
        elif key == "endpoint_url" and old == new:
            new = new.replace(MASK, SECRET_CHANGED)
        changes[key] = [old, new]
    return changes


def build_plan(entries: list[Any], owner: User, *, prune: bool = False, team_id: str | None = None) -> Plan:
    """Match the document's jobs by name among `owner`'s personal jobs, or among the team's with `team_id`;
    read-only (nothing is added to the session)."""
    plan = Plan(team_id=team_id)
    existing = jobs_of(owner.id, team_id)
    by_name: dict[str, list[CronJob]] = defaultdict(list)
    for known in existing:
        by_name[known.name].append(known)
    defaults = _defaults(owner)
    labels = [_label(i, raw) for i, raw in enumerate(entries)]
    counts = Counter(labels)
    # what a `run_after` name stands for: a job of the document (new ones get their id now), else one it updates
    new_ids = {label: new_id() for label in labels if counts[label] == 1 and label not in by_name}
    targets: dict[str, str | None] = {name: (jobs[0].id if len(jobs) == 1 else None) for name, jobs in by_name.items()}
    targets.update(new_ids)
    reported: set[str] = set()
    for index, raw in enumerate(entries):
        label = labels[index]
        if counts[label] > 1:
            if label not in reported:
                reported.add(label)
                plan.errors.append(JobError(label, {"name": f"appears {counts[label]} times in the document"}))
            continue
        checked = _validate(index, raw, defaults)
        if isinstance(checked, JobError):
            plan.errors.append(checked)
            continue
        matches = by_name.get(checked.name, [])
        if len(matches) > 1:
            plan.errors.append(JobError(checked.name, {
                "name": f"matches {len(matches)} existing jobs; rename or delete all but one first"}))
            continue
        job = matches[0] if matches else None
        checked.values["run_after"], ref_errors = portable_deps.resolve(checked.values["run_after"], targets)
        if ref_errors:
            plan.errors.append(JobError(checked.name, ref_errors))
            continue
        sealed, secret_errors = _keep_secrets(checked.values, job)
        if secret_errors:
            plan.errors.append(JobError(checked.name, secret_errors))
        elif job is None:
            checked.id = new_ids.get(checked.name)
            plan.planned.add(checked.id or "")
            plan.create.append(checked)
        else:
            changes = _changes(_stored(job), sealed, vault.changed(sealed, job))
            if changes:
                plan.update.append(Update(job, {k: checked.values[k] for k in changes}, changes))
            else:
                plan.unchanged += 1
    _refuse_cycles(plan)
    if prune:
        named = set(labels)
        plan.delete = [job for job in existing if job.name not in named]
    limit = current_app.config.get("MAX_JOBS_PER_OWNER")  # the per-user job cap (SPEC §6), checked once here
    total = len(existing) - len(plan.delete) + len(plan.create)
    if limit is not None and len(plan.create) and total > int(limit):
        plan.errors.append(JobError(DOCUMENT, {"jobs": f"the import would leave {total} jobs; the limit is {limit}"}))
    plan.create.sort(key=lambda e: e.name)
    plan.update.sort(key=lambda u: (u.name, u.job.id))
    plan.errors.sort(key=lambda e: e.name)
    return plan


def _refuse_cycles(plan: Plan) -> None:
    """A document whose run_after lists, with the dependencies stored, would make a cycle: an error of each job
    that closes one (its run_after entry named), so the plan shows it and apply refuses it."""
    edges = {e.id: [r["job_id"] for r in e.values["run_after"]] for e in plan.create if e.id}
    edges.update({u.job.id: [r["job_id"] for r in u.values["run_after"]]
                  for u in plan.update if "run_after" in u.values})
    if not edges:
        return
    names = {**{e.id: e.name for e in plan.create if e.id}, **{u.job.id: u.name for u in plan.update}}
    found = portable_deps.cycles(edges, names)
    for job_id, (index, chain) in sorted(found.items(), key=lambda item: names[item[0]]):
        plan.errors.append(JobError(names[job_id], {f"run_after[{index}]": f"this would make a cycle: {chain}"}))
    plan.create = [e for e in plan.create if e.id not in found]
    plan.update = [u for u in plan.update if u.job.id not in found]


# ---- apply ------------------------------------------------------------------------------------------------------



def apply_plan(p: Principal, plan: Plan, owner: User, *, source: str) -> list[JobEvent]:
    """Every change through the job service, in the caller's transaction (the caller commits or rolls back).

    Returns the events to publish once committed.
    """
    if not plan.ok:
        raise ValueError("a plan with errors cannot be applied")
    events: list[JobEvent] = []
    for job in plan.delete:
        gone = service.delete_job(job, flush=False)
        events.append(("cron:deleted", gone, gone["owner_id"], gone["team_id"]))
    db.session.flush()  # the deletes first, in one batch, so the room they free counts for the creates
    # Then one flush for the UPDATEs and INSERTs of thousands of jobs. Without autoflush a service check that counts
    # rows sees the jobs as they were after the deletes; build_plan checked the totals.
    # The creates come first: an updated job may run after a new one, and its dependency rows need the new row.
    created: list[CronJob] = []
    with db.session.no_autoflush:
        for entry in plan.create:
            job = service.create_job(p, {**entry.values, "team_id": plan.team_id}, source, owner=owner,
                                     reason=IMPORT_REASON, flush=False,
                                     quota_checked=True, job_id=entry.id, planned=plan.planned)
            created.append(job)
            events.append(("cron:created", service.job_json(job), job.owner_id, job.team_id))
        for update in plan.update:
            schedule_changed = service.update_job(p, update.job, update.values, reason=IMPORT_REASON,
                                                  source=source, flush=False, planned=plan.planned)
            data = service.job_json(update.job)
            events.append(("cron:updated", data, update.job.owner_id, update.job.team_id))
            if schedule_changed:
                events.append(("schedule:changed", data, update.job.owner_id, update.job.team_id))
    db.session.flush()
    dependencies.refuse_cycles(created)  # new jobs after each other: their rows were stored without a search
    return events


def publish_events(events: list[JobEvent]) -> None:
    publish_many(redis_client(), current_app.config["REDIS_PREFIX"], events)


def audit_payload(plan: Plan, *, mode: str, prune: bool, owner: User, source: str) -> dict[str, Any]:
    """What the `cron.import` audit row keeps: the counts and the plan (the audit redaction caps and masks it)."""
    return {"mode": mode, "prune": prune, "owner_id": owner.id, "via": source,
            "counts": {"create": len(plan.create), "update": len(plan.update), "delete": len(plan.delete),
                       "unchanged": plan.unchanged, "errors": len(plan.errors)},
            "plan": plan.to_json()}
