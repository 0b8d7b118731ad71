"""The dependency graph's one question: would these new edges close a cycle, and through which jobs?

Pure: the caller supplies the edges level by level (`dependents_of`), so the same search runs on the database
(one indexed query per level) and on plain dicts in the unit tests.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping

DependentsOf = Callable[[set[str]], Mapping[str, Iterable[str]]]  # job ids -> the jobs that run after each


def find_cycle(job_id: str, upstreams: Collection[str], dependents_of: DependentsOf) -> list[str] | None:
    """The cycle that making `job_id` run after each of `upstreams` would close, as the path fires travel:
    [upstream, job_id, ..., upstream]; None when there is none.

    A fire of an upstream fires `job_id`, whose fires reach every job downstream of it; a cycle exists exactly
    when one of the upstreams is among those. Breadth-first, so the chain reported is a shortest one.
    """
    wanted = set(upstreams)
    if job_id in wanted:
        return [job_id, job_id]
    came_from: dict[str, str | None] = {job_id: None}
    frontier = {job_id}
    while frontier:
        edges = dependents_of(frontier)
        following: set[str] = set()
        for node in sorted(frontier):
            for dependent in sorted(set(edges.get(node, ()))):
                if dependent in came_from:
                    continue
                came_from[dependent] = node
                if dependent in wanted:
                    return [dependent, *_path_to(dependent, came_from)]
                following.add(dependent)
        frontier = following
    return None


def _path_to(node: str, came_from: Mapping[str, str | None]) -> list[str]:
    path = [node]
    step = came_from[node]
    while step is not None:
        path.append(step)
        step = came_from[step]
    return path[::-1]


def chain_text(path: list[str], names: Mapping[str, str]) -> str:
    """"A → B → C → A" by job names (ids where a name is unknown)."""
    return " → ".join(names.get(node, node) for node in path)
