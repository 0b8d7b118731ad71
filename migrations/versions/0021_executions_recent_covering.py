"""each job's recent runs read from the index alone: ix_executions_job_id carries what health reads of them

Health reads each job's last 220 successful runs (the anomalies) and its latest start lag in (job, id) order.
With the key alone every row cost a heap page of its own, as one job's rows lie a whole batch of other jobs'
rows apart (10,000 pages for a 50-job page); with the columns those reads test and return in the index, they
are index-only scans of a few pages per job. A final write changes `status`, which another index keys on, so
the row gets new index entries anyway: the wider entries cost no extra index write.

The index is built CONCURRENTLY under a new name and swapped in, so an upgrade does not block the recorder
while it reads a large table.

Revision ID: 0021
Revises: 0020
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_INCLUDED = "status, trigger, execution_time_ms, fire_lag_ms, attempt_number"


def _swap(included: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    include = f" INCLUDE ({included})" if included else ""
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_executions_job_id_next")  # an interrupted build's leftover
        op.execute(f"CREATE INDEX CONCURRENTLY ix_executions_job_id_next ON cron_executions (cron_job_id, id)"
                   f"{include}")
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_executions_job_id")
        op.execute("ALTER INDEX ix_executions_job_id_next RENAME TO ix_executions_job_id")


def upgrade() -> None:
    _swap(_INCLUDED)


def downgrade() -> None:
    _swap("")
