"""job_counts: jobs per owner, kept by triggers on cron_jobs (so list and create stay fast at 1,000,000 jobs)

Revision ID: 0010
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0005"
branch_labels = None
depends_on = None

# PostgreSQL: statement-level triggers over transition tables, so a bulk insert or delete costs one grouped
# statement, not one per row; an owner change (offboarding) is rare and row-level.
_PG = [
    """CREATE FUNCTION job_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO job_counts (owner_id, jobs)
        SELECT owner_id, count(*) FROM added_jobs GROUP BY owner_id
        ON CONFLICT (owner_id) DO UPDATE SET jobs = job_counts.jobs + EXCLUDED.jobs;
      RETURN NULL;
    END $$""",
    """CREATE FUNCTION job_counts_remove() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE job_counts SET jobs = job_counts.jobs - gone.n
        FROM (SELECT owner_id, count(*) AS n FROM removed_jobs GROUP BY owner_id) AS gone
        WHERE job_counts.owner_id = gone.owner_id;
      RETURN NULL;
    END $$""",
    """CREATE FUNCTION job_counts_move() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE job_counts SET jobs = jobs - 1 WHERE owner_id = OLD.owner_id;
      INSERT INTO job_counts (owner_id, jobs) VALUES (NEW.owner_id, 1)
        ON CONFLICT (owner_id) DO UPDATE SET jobs = job_counts.jobs + 1;
      RETURN NULL;
    END $$""",
    "CREATE TRIGGER job_counts_insert AFTER INSERT ON cron_jobs REFERENCING NEW TABLE AS added_jobs"
    " FOR EACH STATEMENT EXECUTE FUNCTION job_counts_add()",
    "CREATE TRIGGER job_counts_delete AFTER DELETE ON cron_jobs REFERENCING OLD TABLE AS removed_jobs"
    " FOR EACH STATEMENT EXECUTE FUNCTION job_counts_remove()",
    "CREATE TRIGGER job_counts_owner AFTER UPDATE OF owner_id ON cron_jobs FOR EACH ROW"
    " WHEN (OLD.owner_id IS DISTINCT FROM NEW.owner_id) EXECUTE FUNCTION job_counts_move()",
]
_SQLITE = [
    """CREATE TRIGGER job_counts_insert AFTER INSERT ON cron_jobs BEGIN
      INSERT INTO job_counts (owner_id, jobs) VALUES (NEW.owner_id, 1)
        ON CONFLICT (owner_id) DO UPDATE SET jobs = jobs + 1;
    END""",
    """CREATE TRIGGER job_counts_delete AFTER DELETE ON cron_jobs BEGIN
      UPDATE job_counts SET jobs = jobs - 1 WHERE owner_id = OLD.owner_id;
    END""",
    """CREATE TRIGGER job_counts_owner AFTER UPDATE OF owner_id ON cron_jobs
      WHEN OLD.owner_id IS NOT NEW.owner_id BEGIN
      UPDATE job_counts SET jobs = jobs - 1 WHERE owner_id = OLD.owner_id;
      INSERT INTO job_counts (owner_id, jobs) VALUES (NEW.owner_id, 1)
        ON CONFLICT (owner_id) DO UPDATE SET jobs = jobs + 1;
    END""",
]


def upgrade():
    op.create_table(
        "job_counts",
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("jobs", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("owner_id"),
    )
    for statement in _PG if op.get_bind().dialect.name == "postgresql" else _SQLITE:
        op.execute(statement)
    op.execute("INSERT INTO job_counts (owner_id, jobs) SELECT owner_id, count(*) FROM cron_jobs GROUP BY owner_id")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name in ("job_counts_insert", "job_counts_delete", "job_counts_owner"):
            op.execute(f"DROP TRIGGER {name} ON cron_jobs")
        for name in ("job_counts_add", "job_counts_remove", "job_counts_move"):
            op.execute(f"DROP FUNCTION {name}()")
    else:
        for name in ("job_counts_insert", "job_counts_delete", "job_counts_owner"):
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table("job_counts")
