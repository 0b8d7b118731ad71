"""alert routing, incidents, integrations: per-job alert policy (auto_disable folds into on_exhausted), job
channels and snooze, team alert defaults, incidents, deliveries linked to their incident, notification preferences

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def _job_columns() -> list[sa.Column]:
    return [
        sa.Column("alert_on", sa.JSON(), nullable=True),
        sa.Column("on_exhausted", sa.String(8), nullable=True),
        sa.Column("channel_ids", sa.JSON(), nullable=True),
        sa.Column("failure_rate_pct", sa.Integer(), nullable=True),
        sa.Column("failure_rate_window", sa.Integer(), nullable=True),
        sa.Column("max_duration_ms", sa.Integer(), nullable=True),
        sa.Column("late_after_s", sa.Integer(), nullable=True),
        sa.Column("snoozed_until", UTC_DATETIME, nullable=True),
    ]


def upgrade() -> None:
    # plain ADD/DROP COLUMN (PostgreSQL, SQLite >= 3.35): a batch rebuild of cron_jobs would drop its triggers
    for column in _job_columns():
        op.add_column("cron_jobs", column)
    op.execute("UPDATE cron_jobs SET on_exhausted = 'disable' WHERE auto_disable")
    op.drop_column("cron_jobs", "auto_disable")
    op.add_column("teams", sa.Column("alert_defaults", sa.JSON(), nullable=True))
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("cron_job_id", sa.String(36), sa.ForeignKey("cron_jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("team_id", sa.String(36), sa.ForeignKey("teams.id", ondelete="SET NULL"), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False, server_default=""),
        sa.Column("opened_at", UTC_DATETIME, nullable=False),
        sa.Column("last_event_at", UTC_DATETIME, nullable=False),
        sa.Column("events", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("last_notified_at", UTC_DATETIME, nullable=True),
        sa.Column("reminders", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("acknowledged_at", UTC_DATETIME, nullable=True),
        sa.Column("acknowledged_by", sa.String(36), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("resolved_at", UTC_DATETIME, nullable=True),
        sa.Column("muted", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_incidents_job_opened", "incidents", ["cron_job_id", "opened_at"])
    op.create_index("ix_incidents_opened", "incidents", ["opened_at"])
    op.create_index("ix_incidents_one_open", "incidents", ["cron_job_id"], unique=True,
                    postgresql_where=sa.text("resolved_at IS NULL"), sqlite_where=sa.text("resolved_at IS NULL"))
    op.create_table(
        "notification_preferences",
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("in_app", sa.JSON(), nullable=False),
        sa.Column("email", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
    )
    op.add_column("alert_deliveries", sa.Column("incident_id", sa.String(36), nullable=True))
    op.create_index("ix_alert_deliveries_incident_id", "alert_deliveries", ["incident_id"])


def downgrade() -> None:
    op.drop_index("ix_alert_deliveries_incident_id", table_name="alert_deliveries")
    op.drop_column("alert_deliveries", "incident_id")
    op.drop_table("notification_preferences")
    op.drop_index("ix_incidents_one_open", table_name="incidents")
    op.drop_index("ix_incidents_opened", table_name="incidents")
    op.drop_index("ix_incidents_job_opened", table_name="incidents")
    op.drop_table("incidents")
    op.drop_column("teams", "alert_defaults")
    op.add_column("cron_jobs", sa.Column("auto_disable", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE cron_jobs SET auto_disable = (on_exhausted = 'disable') WHERE on_exhausted IS NOT NULL")
    for column in reversed(_job_columns()):
        op.drop_column("cron_jobs", column.name)
