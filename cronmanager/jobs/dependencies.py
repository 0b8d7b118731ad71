"""A job's `run_after` (SPEC §21): validating it, storing it, and the upstream and downstream jobs a viewer sees.

The rules, each refused with the field named and nothing saved: at most MAX_UPSTREAMS entries, each a job the
caller may see (else 404, as for any job), not the job itself, not listed twice, `on` one of success, failure,
completion, `delay_s` 0..MAX_DELAY_S; and no cycle (422 naming the chain by job names). An entry the job already
had is kept without the visibility check, so an editor may save a job whose upstream only its owner sees.
Firing is the engine's (execution/chain.py).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict, cast

from sqlalchemy import select, text

from cronmanager.auth import visibility
from cronmanager.auth.principal import Principal
from cronmanager.errors import ApiError
from cronmanager.extensions import db
from cronmanager.jobs.dependency_graph import chain_text, find_cycle
from cronmanager.models import CronJob, JobDependency, RunOn

MAX_UPSTREAMS = 20
MAX_DELAY_S = 86_400
_GRAPH_LOCK = 0x72756E61  # the advisory lock serialising changes of the graph ("runa")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class RunAfterJson(TypedDict):
    job_id: str
    on: str
    delay_s: int


@dataclass(frozen=True)
class Upstream:
    job_id: str
    on: RunOn
    delay_s: int = 0

    def as_json(self) -> RunAfterJson:
        return {"job_id": self.job_id, "on": self.on.value, "delay_s": self.delay_s}


def _refuse(status: int, field: str, message: str) -> ApiError:
    return ApiError(status, f"{field}: {message}", fields={field: message})


def run_after_json(job: CronJob) -> list[RunAfterJson]:
    return cast("list[RunAfterJson]", job.run_after)


def parse(items: Any) -> list[Upstream]:
    """Shape and bounds of each entry (the API's schema says the same; pages and imports come here directly)."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise _refuse(422, "run_after", "a list of {job_id, on, delay_s}")
    if len(items) > MAX_UPSTREAMS:
        raise _refuse(422, "run_after", f"at most {MAX_UPSTREAMS} jobs")
    out: list[Upstream] = []
    for i, item in enumerate(items):
        field = f"run_after[{i}]"
        if not isinstance(item, Mapping):
            raise _refuse(422, field, "an object {job_id, on, delay_s}")
        unknown = set(item) - {"job_id", "on", "delay_s"}
        if unknown:
            raise _refuse(422, field, "only job_id, on and delay_s")
        job_id, on, delay = item.get("job_id"), item.get("on", RunOn.SUCCESS.value), item.get("delay_s", 0)
        if not isinstance(job_id, str) or not _UUID.match(job_id):
            raise _refuse(422, f"{field}.job_id", "a job id")
        if on not in {r.value for r in RunOn}:
            raise _refuse(422, f"{field}.on", "one of success, failure, completion")
        if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= MAX_DELAY_S:
            raise _refuse(422, f"{field}.delay_s", f"0-{MAX_DELAY_S} seconds")
        if any(u.job_id == job_id for u in out):
            raise _refuse(422, f"{field}.job_id", "this job is listed twice")
        out.append(Upstream(job_id, RunOn(on), delay))
    return out


def check(p: Principal, job_id: str | None, upstreams: list[Upstream], kept: Iterable[str] = ()) -> None:
    """Each upstream exists and the caller may see it (404 naming the entry otherwise) and is not the job itself.
    `kept`: upstream ids the job has already (not checked for visibility again)."""
    kept = set(kept)
    fresh = {u.job_id for u in upstreams} - kept
    found = {j.id: j for j in db.session.execute(
        select(CronJob).where(CronJob.id.in_(fresh))).scalars()} if fresh else {}
    audience = visibility.audience(p)
    for i, u in enumerate(upstreams):
        field = f"run_after[{i}].job_id"
        if u.job_id == job_id:
            raise _refuse(422, field, "a job cannot run after itself")
        if u.job_id in kept:
            continue
        upstream = found.get(u.job_id)
        if upstream is None or not audience.sees(upstream.owner_id, upstream.team_id):
            raise _refuse(404, field, "no such job")


def store(job: CronJob, upstreams: list[Upstream], *, new: bool = False) -> bool:
    """Replace the job's dependencies (refusing a cycle); True when they changed. The graph's changes take turns
    (an advisory lock), so two edits cannot each add half of a cycle. A `new` job has no dependents yet, so it
    closes no cycle: nothing is flushed or searched (an import creates thousands in one flush)."""
    if new:
        job.run_after_rows = [JobDependency(upstream_id=u.job_id, on=u.on.value, delay_s=u.delay_s, position=i)
                              for i, u in enumerate(upstreams)]
        return bool(upstreams)
    current = [Upstream(d.upstream_id, RunOn(d.on), d.delay_s) for d in job.run_after_rows]
    if current == upstreams:
        return False
    if upstreams and db.engine.dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _GRAPH_LOCK})
    job.run_after_rows = [JobDependency(upstream_id=u.job_id, on=u.on.value, delay_s=u.delay_s, position=i)
                          for i, u in enumerate(upstreams)]
    db.session.flush()
    _refuse_cycle(job.id, [u.job_id for u in upstreams])
    return True


def refuse_cycles(jobs: Iterable[CronJob]) -> None:
    """The cycle search for jobs whose dependencies were stored as `new` (an import's jobs after each other)."""
    with_upstreams = [j for j in jobs if j.run_after_rows]
    if with_upstreams and db.engine.dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _GRAPH_LOCK})
    for job in with_upstreams:
        _refuse_cycle(job.id, [d.upstream_id for d in job.run_after_rows])


def _refuse_cycle(job_id: str, upstream_ids: list[str]) -> None:
    cycle = find_cycle(job_id, upstream_ids, dependents_of) if upstream_ids else None
    if cycle is not None:
        index = upstream_ids.index(cycle[0])
        message = f"this would make a cycle: {chain_text(cycle, names_of(cycle))}"
        raise _refuse(422, f"run_after[{index}].job_id", message)


def names_of(job_ids: Iterable[str]) -> dict[str, str]:
    return dict(db.session.execute(select(CronJob.id, CronJob.name).where(CronJob.id.in_(set(job_ids)))).all())


def dependents_of(job_ids: set[str]) -> dict[str, list[str]]:
    """The stored edges: for each of `job_ids`, the jobs that run after it."""
    out: dict[str, list[str]] = defaultdict(list)
    for dependent, upstream in db.session.execute(select(JobDependency.job_id, JobDependency.upstream_id)
                                                  .where(JobDependency.upstream_id.in_(job_ids))).tuples():
        out[upstream].append(dependent)
    return out


@dataclass(frozen=True)
class Neighbour:
    """An upstream or downstream job as the job page lists it."""

    id: str
    name: str
    on: str
    delay_s: int
    is_active: bool


def neighbours(p: Principal, job: CronJob) -> tuple[list[Neighbour], list[Neighbour]]:
    """(upstream, downstream) jobs of `job` that `p` may see, by name."""
    up = db.session.execute(visibility.visible(
        select(CronJob.id, CronJob.name, JobDependency.on, JobDependency.delay_s, CronJob.is_active)
        .join(JobDependency, JobDependency.upstream_id == CronJob.id)
        .where(JobDependency.job_id == job.id).order_by(JobDependency.position), p)).all()
    down = db.session.execute(visibility.visible(
        select(CronJob.id, CronJob.name, JobDependency.on, JobDependency.delay_s, CronJob.is_active)
        .join(JobDependency, JobDependency.job_id == CronJob.id)
        .where(JobDependency.upstream_id == job.id).order_by(CronJob.name, CronJob.id), p)).all()
    return [Neighbour(*r) for r in up], [Neighbour(*r) for r in down]
