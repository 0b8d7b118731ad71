"""`run_after` in jobs-as-code documents: upstream jobs named by name, so a file works in any installation.

In a document an entry names its upstream by `job` (its name) when that name is unique among the exported jobs,
else by `job_id` (a job of this installation outside the file, or a name used twice). On import, `job` is looked
up among the document's jobs first, then among the jobs the import matches names against (the owner's, or the
team's); `job_id` is taken as is and checked like any API call (a job the caller may see).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from cronmanager.errors import ApiError
from cronmanager.jobs import dependencies
from cronmanager.jobs.dependencies import MAX_DELAY_S, MAX_UPSTREAMS, parse
from cronmanager.jobs.dependency_graph import chain_text, find_cycle
from cronmanager.models import CronJob, RunOn

Ref = dict[str, Any]  # {"job": name} or {"job_id": id}, with "on" and "delay_s"


def named(views: list[dict[str, Any]], jobs: list[CronJob]) -> None:
    """Exported views (in the order of `jobs`): each upstream by name where the name says which job it is."""
    counts = Counter(j.name for j in jobs)
    names = {j.id: j.name for j in jobs if counts[j.name] == 1}
    for view in views:
        refs = []
        for item in view.get("run_after") or []:
            upstream = item["job_id"]
            key: Ref = {"job": names[upstream]} if upstream in names else {"job_id": upstream}
            refs.append({**key, "on": item["on"], "delay_s": item["delay_s"]})
        view["run_after"] = refs


def refs_of(raw: Any) -> tuple[list[Ref], dict[str, str]]:
    """The document's entries checked for shape (bounds as the API's): (refs, field errors)."""
    if raw is None:
        return [], {}
    if not isinstance(raw, list):
        return [], {"run_after": "a list of {job or job_id, on, delay_s}"}
    if len(raw) > MAX_UPSTREAMS:
        return [], {"run_after": f"at most {MAX_UPSTREAMS} jobs"}
    refs: list[Ref] = []
    errors: dict[str, str] = {}
    for i, item in enumerate(raw):
        field = f"run_after[{i}]"
        if not isinstance(item, dict) or set(item) - {"job", "job_id", "on", "delay_s"}:
            errors[field] = "an object {job or job_id, on, delay_s}"
            continue
        if ("job" in item) == ("job_id" in item):
            errors[field] = "give either job (a name) or job_id"
            continue
        if "job" in item and (not isinstance(item["job"], str) or not item["job"].strip()):
            errors[f"{field}.job"] = "a job name"
            continue
        on, delay = item.get("on", RunOn.SUCCESS.value), item.get("delay_s", 0)
        if on not in {r.value for r in RunOn}:
            errors[f"{field}.on"] = "one of success, failure, completion"
        elif isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= MAX_DELAY_S:
            errors[f"{field}.delay_s"] = f"0-{MAX_DELAY_S} seconds"
        else:
            refs.append({**({"job": item["job"].strip()} if "job" in item else {"job_id": item["job_id"]}),
                         "on": on, "delay_s": delay})
    return refs, errors


def resolve(refs: list[Ref], targets: Mapping[str, str | None]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Names to ids (`targets`: name -> id, None where the name is ambiguous): the API's run_after, or errors."""
    out: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for i, ref in enumerate(refs):
        if "job_id" in ref:
            out.append({"job_id": ref["job_id"], "on": ref["on"], "delay_s": ref["delay_s"]})
        elif ref["job"] not in targets:
            errors[f"run_after[{i}].job"] = "no job of this name in the document or among the jobs it updates"
        elif targets[ref["job"]] is None:
            errors[f"run_after[{i}].job"] = "this name matches several jobs: use job_id"
        else:
            out.append({"job_id": targets[ref["job"]], "on": ref["on"], "delay_s": ref["delay_s"]})
    if not errors:
        try:
            parse(out)  # the API's own checks of the resolved list (a job listed twice)
        except ApiError as err:
            errors.update(err.fields or {"run_after": err.message})
    return out, errors


def cycles(edges: Mapping[str, list[str]], names: Mapping[str, str]) -> dict[str, tuple[int, str]]:
    """The cycles a plan would close: `edges` are the run_after (upstream ids) the plan sets, by job id (new jobs
    by the id the plan gave them); every other job keeps its stored dependencies. Returns, per job whose list
    closes one, (the index of the entry, the chain by names)."""
    def dependents_of(nodes: set[str]) -> dict[str, list[str]]:
        stored = dependencies.dependents_of(nodes)
        out = {n: [d for d in stored.get(n, []) if d not in edges] for n in nodes}
        for dependent, upstreams in edges.items():
            for upstream in upstreams:
                if upstream in nodes:
                    out[upstream].append(dependent)
        return out

    found: dict[str, tuple[int, str]] = {}
    for job_id, upstreams in edges.items():
        cycle = find_cycle(job_id, upstreams, dependents_of) if upstreams else None
        if cycle is not None:
            found[job_id] = (upstreams.index(cycle[0]), chain_text(cycle, {**dependencies.names_of(cycle), **names}))
    return found
