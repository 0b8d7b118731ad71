"""index for the default job list order (created_at, id)

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_cron_jobs_created_id", "cron_jobs", ["created_at", "id"], unique=False)


def downgrade():
    op.drop_index("ix_cron_jobs_created_id", table_name="cron_jobs")
