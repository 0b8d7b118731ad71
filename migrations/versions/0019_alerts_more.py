"""alert reminders and incident retention: a delivery's attempt time and its possible-duplicate mark (a send whose
outcome was lost with its process), and an index for pruning resolved incidents

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("alert_deliveries", sa.Column("attempted_at", UTC_DATETIME, nullable=True))
    op.add_column("alert_deliveries", sa.Column("possible_duplicate", sa.Boolean(), nullable=False,
                                                server_default=sa.false()))
    op.create_index("ix_incidents_resolved", "incidents", ["resolved_at"])


def downgrade() -> None:
    op.drop_index("ix_incidents_resolved", table_name="incidents")
    op.drop_column("alert_deliveries", "possible_duplicate")
    op.drop_column("alert_deliveries", "attempted_at")
