"""response assertions of a job

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: no assertions (every existing job), judged by expected_statuses alone as before
    with op.batch_alter_table("cron_jobs") as batch:
        batch.add_column(sa.Column("assertions", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cron_jobs") as batch:
        batch.drop_column("assertions")
