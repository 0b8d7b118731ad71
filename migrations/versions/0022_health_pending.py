"""outcomes appended to job_health_pending as they are recorded, folded into the rollups each minute

The recorder used to upsert three rollup rows per outcome (the job's hour and two buckets), each an index
lookup and a non-HOT write, inside the transaction that records the fire: about an eighth of a burst's
throughput. Now it appends one row to a table with no key, no index and no foreign key, and the `health-rank`
system job moves the rows into the rollups with one upsert per batch; reads add what is still pending.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_health_pending",
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("trigger", sa.String(10), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("lag_ms", sa.Integer(), nullable=True),
        sa.Column("retried", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    # outcomes not folded yet are lost with the table: run `flask health rebuild` after a downgrade
    op.drop_table("job_health_pending")
