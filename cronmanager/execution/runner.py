"""The RQ job function: hand a batch of execution rows to this process's executor."""

from __future__ import annotations


def run_batch(execution_ids: list[int]) -> int:
    from cronmanager.execution.engine import get_executor

    return get_executor().submit_batch([int(i) for i in execution_ids])
