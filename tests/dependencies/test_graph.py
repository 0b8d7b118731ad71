"""The cycle search on plain dicts: the same function the service runs level by level on the database."""

from __future__ import annotations

from cronmanager.jobs.dependency_graph import chain_text, find_cycle


def graph(*edges: tuple[str, str]):
    """Edges as (upstream, dependent): `a` firing fires `b`."""
    dependents: dict[str, list[str]] = {}
    for upstream, dependent in edges:
        dependents.setdefault(upstream, []).append(dependent)
    calls: list[set[str]] = []

    def dependents_of(nodes: set[str]) -> dict[str, list[str]]:
        calls.append(set(nodes))
        return {n: dependents.get(n, []) for n in nodes}

    dependents_of.calls = calls  # type: ignore[attr-defined]
    return dependents_of


def test_it_finds_no_cycle_in_a_chain_or_a_diamond():
    edges = graph(("a", "b"), ("b", "c"), ("a", "d"), ("d", "c"))
    assert find_cycle("e", ["c"], edges) is None  # e after c: nothing runs after e
    assert find_cycle("c", ["a", "b", "d"], edges) is None  # the diamond's join may list all of them


def test_it_names_the_cycle_in_the_order_fires_travel():
    edges = graph(("a", "b"), ("b", "c"))
    assert find_cycle("a", ["c"], edges) == ["c", "a", "b", "c"]  # a after c closes c → a → b → c


def test_a_job_after_itself_is_a_cycle_of_one():
    assert find_cycle("a", ["a"], graph()) == ["a", "a"]


def test_it_reports_a_shortest_cycle_and_reads_each_level_once():
    edges = graph(("x", "a"), ("a", "b"), ("b", "c"), ("c", "d"), ("x", "d"))
    assert find_cycle("x", ["d"], edges) == ["d", "x", "d"]  # x → d directly, not x → a → b → c → d
    assert edges.calls == [{"x"}]  # type: ignore[attr-defined]


def test_it_stops_at_jobs_already_reached_so_a_diamond_upstream_is_searched_once():
    edges = graph(("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("d", "e"))
    assert find_cycle("a", ["z"], edges) is None
    assert edges.calls == [{"a"}, {"b", "c"}, {"d"}, {"e"}]  # type: ignore[attr-defined]


def test_the_chain_reads_by_name():
    assert chain_text(["c", "a", "b", "c"], {"a": "Import", "b": "Report", "c": "Mail"}) == \
        "Mail → Import → Report → Mail"
    assert chain_text(["x", "y"], {"x": "Known"}) == "Known → y"
