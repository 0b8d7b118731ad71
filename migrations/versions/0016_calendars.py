"""calendars, a job's calendar and calendar policy

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

from cronmanager.lib.sqlite_rebuild import triggers_kept

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendars",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("holidays", sa.JSON(), nullable=False),
        sa.Column("country", sa.String(8), nullable=True),
        sa.Column("subdivision", sa.String(16), nullable=True),
        sa.Column("ics", sa.Text(), nullable=True),
        sa.Column("windows", sa.JSON(), nullable=False),
        sa.Column("blackouts", sa.JSON(), nullable=False),
        sa.Column("owner_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
        sa.Column("team_id", sa.String(36), sa.ForeignKey("teams.id", ondelete="CASCADE"), nullable=True),
        sa.Column("created_by", sa.String(36), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    )
    op.create_index("ix_calendars_owner_id", "calendars", ["owner_id"])
    op.create_index("ix_calendars_team_id", "calendars", ["team_id"])
    with triggers_kept(op.get_bind(), "cron_jobs"), op.batch_alter_table("cron_jobs") as batch:
        batch.add_column(sa.Column("calendar_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("calendar_policy", sa.String(16), nullable=False, server_default="skip"))
        batch.create_foreign_key("fk_cron_jobs_calendar_id", "calendars", ["calendar_id"], ["id"],
                                 ondelete="SET NULL")
        batch.create_index("ix_cron_jobs_calendar_id", ["calendar_id"])


def downgrade() -> None:
    with triggers_kept(op.get_bind(), "cron_jobs"), op.batch_alter_table("cron_jobs") as batch:
        batch.drop_index("ix_cron_jobs_calendar_id")
        batch.drop_constraint("fk_cron_jobs_calendar_id", type_="foreignkey")
        batch.drop_column("calendar_policy")
        batch.drop_column("calendar_id")
    op.drop_index("ix_calendars_team_id", "calendars")
    op.drop_index("ix_calendars_owner_id", "calendars")
    op.drop_table("calendars")
