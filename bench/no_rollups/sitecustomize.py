"""Imported at start-up by every interpreter that has this folder on PYTHONPATH (`bench.engine_bench --only
rollups`, the worker pool's children included): the recorder keeps no health rollups, so a burst can be set
against the same burst with them."""

from cronmanager.execution import rollups

rollups.add_fires = lambda fires: None  # type: ignore[assignment]  # the bench's "without" side only
