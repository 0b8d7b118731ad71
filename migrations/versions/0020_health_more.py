"""health at scale: a per-job 7-day rank row (so sort=health is one index scan), the spans a job was disabled,
and covering keys on the rollups

Both are kept by triggers on cron_jobs, like job_counts (0010): every job gets its rank row as it is inserted
(a bulk import costs one statement on PostgreSQL), and every change of `is_active`, whatever made it, opens or
closes a pause. Ranks start empty; the scheduler's system job `health-rank` fills them within a minute.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)
_RANK_COLUMNS = "job_id, base_runs, base_failures, base_missed, runs, failures, missed, failure_ratio"

_PG = [
    f"""CREATE FUNCTION job_health_added() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO job_health_rank ({_RANK_COLUMNS}) SELECT id, 0, 0, 0, 0, 0, 0, -1 FROM added_health_jobs;
      INSERT INTO job_pauses (job_id, paused_at) SELECT id, created_at FROM added_health_jobs WHERE NOT is_active;
      RETURN NULL;
    END $$""",
    """CREATE FUNCTION job_pause_toggled() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.is_active THEN
        UPDATE job_pauses SET resumed_at = now() WHERE job_id = NEW.id AND resumed_at IS NULL;
      ELSE
        INSERT INTO job_pauses (job_id, paused_at) VALUES (NEW.id, now());
      END IF;
      RETURN NULL;
    END $$""",
    "CREATE TRIGGER job_health_insert AFTER INSERT ON cron_jobs REFERENCING NEW TABLE AS added_health_jobs"
    " FOR EACH STATEMENT EXECUTE FUNCTION job_health_added()",
    "CREATE TRIGGER job_pause_toggle AFTER UPDATE OF is_active ON cron_jobs FOR EACH ROW"
    " WHEN (OLD.is_active IS DISTINCT FROM NEW.is_active) EXECUTE FUNCTION job_pause_toggled()",
]
_SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"  # the six-digit fraction SQLAlchemy reads back
_SQLITE = [
    f"""CREATE TRIGGER job_health_insert AFTER INSERT ON cron_jobs BEGIN
      INSERT INTO job_health_rank ({_RANK_COLUMNS}) VALUES (NEW.id, 0, 0, 0, 0, 0, 0, -1);
      INSERT INTO job_pauses (job_id, paused_at) SELECT NEW.id, NEW.created_at WHERE NOT NEW.is_active;
    END""",
    f"""CREATE TRIGGER job_pause_off AFTER UPDATE OF is_active ON cron_jobs
      WHEN OLD.is_active AND NOT NEW.is_active BEGIN
      INSERT INTO job_pauses (job_id, paused_at) VALUES (NEW.id, {_SQLITE_NOW});
    END""",
    f"""CREATE TRIGGER job_pause_on AFTER UPDATE OF is_active ON cron_jobs
      WHEN NOT OLD.is_active AND NEW.is_active BEGIN
      UPDATE job_pauses SET resumed_at = {_SQLITE_NOW} WHERE job_id = NEW.id AND resumed_at IS NULL;
    END""",
]


# the rollups' counters ride in their keys' indexes, so health reads them by index-only scans in job order
_COVERING = {"job_health_hourly": ("job_id, hour", "runs, failures, fired, skipped, missed, duration_max_ms"),
             "job_health_buckets": ("job_id, hour, kind, bucket", "count")}


def _rekey(covering: bool) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, (key, included) in _COVERING.items():
        include = f" INCLUDE ({included})" if covering else ""
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey, ADD CONSTRAINT {table}_pkey "
                   f"PRIMARY KEY ({key}){include}")


def upgrade() -> None:
    _rekey(covering=True)
    op.create_table(
        "job_health_rank",
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("base_until", UTC_DATETIME, nullable=True),
        sa.Column("base_runs", sa.Integer(), nullable=False),
        sa.Column("base_failures", sa.Integer(), nullable=False),
        sa.Column("base_missed", sa.Integer(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("missed", sa.Integer(), nullable=False),
        sa.Column("failure_ratio", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["cron_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id"),
    )
    op.create_index("ix_job_health_rank_worst", "job_health_rank", ["failure_ratio", "missed", "job_id"])
    op.create_table(
        "job_pauses",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("paused_at", UTC_DATETIME, nullable=False),
        sa.Column("resumed_at", UTC_DATETIME, nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["cron_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_job_pauses_job", "job_pauses", ["job_id", "paused_at"])
    for statement in _PG if op.get_bind().dialect.name == "postgresql" else _SQLITE:
        op.execute(statement)
    op.execute(f"INSERT INTO job_health_rank ({_RANK_COLUMNS}) SELECT id, 0, 0, 0, 0, 0, 0, -1 FROM cron_jobs")
    # when a job already disabled was disabled is not known: from its creation, as health counted it until now
    op.execute("INSERT INTO job_pauses (job_id, paused_at) SELECT id, created_at FROM cron_jobs WHERE NOT is_active")


def downgrade() -> None:
    _rekey(covering=False)
    if op.get_bind().dialect.name == "postgresql":
        for name in ("job_health_insert", "job_pause_toggle"):
            op.execute(f"DROP TRIGGER {name} ON cron_jobs")
        for name in ("job_health_added", "job_pause_toggled"):
            op.execute(f"DROP FUNCTION {name}()")
    else:
        for name in ("job_health_insert", "job_pause_off", "job_pause_on"):
            op.execute(f"DROP TRIGGER {name}")
    op.drop_index("ix_job_pauses_job", table_name="job_pauses")
    op.drop_table("job_pauses")
    op.drop_index("ix_job_health_rank_worst", table_name="job_health_rank")
    op.drop_table("job_health_rank")
