"""trace context of each execution; per-job traceparent opt-out

Revision ID: 0007
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("cron_executions") as batch:
        batch.add_column(sa.Column("traceparent", sa.String(55), nullable=True))
    with op.batch_alter_table("cron_jobs") as batch:
        batch.add_column(sa.Column("propagate_trace", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade():
    with op.batch_alter_table("cron_jobs") as batch:
        batch.drop_column("propagate_trace")
    with op.batch_alter_table("cron_executions") as batch:
        batch.drop_column("traceparent")
