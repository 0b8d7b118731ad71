"""Imported at start-up by every interpreter that has this folder on PYTHONPATH (`bench.engine_bench --only
bound`, the worker pool's children included): the recorder writes each fire's final row and commits, nothing
else (no start write, no job row, no rollups, no dependency fires, no events, metrics or alerts). Not a mode the
product can run in: it is the least a fire's record could cost, to set the burst's goal against."""

from cronmanager.execution import executor, recording, store
from cronmanager.execution.outcome import Fire, RecordKind
from cronmanager.extensions import db


def _final_rows_only(worker_id: str, items: list[tuple[RecordKind, Fire]]) -> recording.Recorded:
    landed = store.write_finals(worker_id, [f for kind, f in items if kind == RecordKind.FINAL])
    db.session.commit()
    return recording.Recorded([], landed)


executor.record_batch = _final_rows_only  # type: ignore[assignment]  # the bench's "least" side only
