"""per-job health rollups, service level objectives, status badges, retention runs

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    # existing executions are counted by `flask health rebuild` (docs/operations.md), not here: it can take minutes
    op.create_table(
        "job_health_hourly",
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("hour", UTC_DATETIME, nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("fired", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("missed", sa.Integer(), nullable=False),
        sa.Column("duration_max_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["cron_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "hour"),
    )
    op.create_table(
        "job_health_buckets",
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("hour", UTC_DATETIME, nullable=False),
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("bucket", sa.SmallInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["cron_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "hour", "kind", "bucket"),
    )
    op.create_table(
        "job_slos",
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("target", sa.Float(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["cron_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id"),
        sa.CheckConstraint("target > 0 AND target < 100", name="ck_job_slos_target"),
        sa.CheckConstraint("window_days IN (7, 30)", name="ck_job_slos_window"),
    )
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("finished_at", UTC_DATETIME, nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_retention_runs_finished_at", "retention_runs", ["finished_at"])
    op.create_table(
        "status_badges",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column("team_id", sa.String(length=36), nullable=True),
        sa.Column("created_by", sa.String(length=36), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["cron_jobs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("key"),
        sa.CheckConstraint("(job_id IS NULL) <> (team_id IS NULL)", name="ck_status_badges_one_subject"),
    )
    op.create_index("ix_status_badges_job", "status_badges", ["job_id"], unique=True)
    op.create_index("ix_status_badges_team", "status_badges", ["team_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_status_badges_team", table_name="status_badges")
    op.drop_index("ix_status_badges_job", table_name="status_badges")
    op.drop_table("status_badges")
    op.drop_table("job_slos")
    op.drop_index("ix_retention_runs_finished_at", table_name="retention_runs")
    op.drop_table("retention_runs")
    op.drop_table("job_health_buckets")
    op.drop_table("job_health_hourly")
