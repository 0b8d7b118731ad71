"""teams: members with roles, team_id on jobs, tokens (service accounts), alert channels and audit rows;
job_counts keyed by the job's owner of record (its team, else its user)

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)
_BY_OWNER_OF_RECORD = "coalesce({t}.team_id, {t}.owner_id)"
_BY_USER = "{t}.owner_id"  # 0010's key


def _counter_statements(key: str, dialect: str) -> list[str]:
    """0010's counters keyed by `key`; with the team's key a team's jobs count toward the team's cap."""
    columns = "owner_id, team_id" if "team_id" in key else "owner_id"
    old, new = key.format(t="OLD"), key.format(t="NEW")
    if dialect == "postgresql":
        return [
            f"""CREATE OR REPLACE FUNCTION job_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              INSERT INTO job_counts (owner_id, jobs)
                SELECT {key.format(t='added_jobs')}, count(*) FROM added_jobs GROUP BY 1
                ON CONFLICT (owner_id) DO UPDATE SET jobs = job_counts.jobs + EXCLUDED.jobs;
              RETURN NULL;
            END $$""",
            f"""CREATE OR REPLACE FUNCTION job_counts_remove() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              UPDATE job_counts SET jobs = job_counts.jobs - gone.n
                FROM (SELECT {key.format(t='removed_jobs')} AS key, count(*) AS n FROM removed_jobs GROUP BY 1)
                  AS gone
                WHERE job_counts.owner_id = gone.key;
              RETURN NULL;
            END $$""",
            f"""CREATE OR REPLACE FUNCTION job_counts_move() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              UPDATE job_counts SET jobs = jobs - 1 WHERE owner_id = {old};
              INSERT INTO job_counts (owner_id, jobs) VALUES ({new}, 1)
                ON CONFLICT (owner_id) DO UPDATE SET jobs = job_counts.jobs + 1;
              RETURN NULL;
            END $$""",
            "DROP TRIGGER IF EXISTS job_counts_owner ON cron_jobs",
            f"CREATE TRIGGER job_counts_owner AFTER UPDATE OF {columns} ON cron_jobs FOR EACH ROW"
            f" WHEN ({old} IS DISTINCT FROM {new}) EXECUTE FUNCTION job_counts_move()",
        ]
    return [  # SQLite: a batch rebuild of cron_jobs drops its triggers, so all three are made again
        "DROP TRIGGER IF EXISTS job_counts_insert",
        "DROP TRIGGER IF EXISTS job_counts_delete",
        "DROP TRIGGER IF EXISTS job_counts_owner",
        f"""CREATE TRIGGER job_counts_insert AFTER INSERT ON cron_jobs BEGIN
          INSERT INTO job_counts (owner_id, jobs) VALUES ({new}, 1)
            ON CONFLICT (owner_id) DO UPDATE SET jobs = jobs + 1;
        END""",
        f"""CREATE TRIGGER job_counts_delete AFTER DELETE ON cron_jobs BEGIN
          UPDATE job_counts SET jobs = jobs - 1 WHERE owner_id = {old};
        END""",
        f"""CREATE TRIGGER job_counts_owner AFTER UPDATE OF {columns} ON cron_jobs
          WHEN {old} IS NOT {new} BEGIN
          UPDATE job_counts SET jobs = jobs - 1 WHERE owner_id = {old};
          INSERT INTO job_counts (owner_id, jobs) VALUES ({new}, 1)
            ON CONFLICT (owner_id) DO UPDATE SET jobs = jobs + 1;
        END""",
    ]


def _recount(key: str) -> None:
    op.execute("DELETE FROM job_counts")
    op.execute(f"INSERT INTO job_counts (owner_id, jobs) SELECT {key.format(t='cron_jobs')}, count(*) "
               "FROM cron_jobs GROUP BY 1")


def upgrade():
    op.create_table(
        "teams",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name_key"),
    )
    op.create_table(
        "team_members",
        sa.Column("team_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("team_id", "user_id"),
    )
    op.create_index("ix_team_members_user", "team_members", ["user_id", "team_id"])
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:  # SQLite adds a constraint by rebuilding the table: dropping the old one must not cascade
        op.execute("PRAGMA foreign_keys=OFF")
    for table, ondelete in (("cron_jobs", "RESTRICT"), ("api_tokens", "CASCADE"), ("alert_channels", "CASCADE")):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("team_id", sa.String(length=36), nullable=True))
            batch.create_foreign_key(f"fk_{table}_team", "teams", ["team_id"], ["id"], ondelete=ondelete)
    if sqlite:
        op.execute("PRAGMA foreign_keys=ON")
    op.create_index("ix_cron_jobs_team_created", "cron_jobs", ["team_id", "created_at", "id"])
    op.create_index("ix_api_tokens_team_id", "api_tokens", ["team_id"])
    op.create_index("ix_alert_channels_team_id", "alert_channels", ["team_id"])
    op.add_column("audit_logs", sa.Column("team_id", sa.String(length=36), nullable=True))
    for statement in _counter_statements(_BY_OWNER_OF_RECORD, op.get_bind().dialect.name):
        op.execute(statement)
    _recount(_BY_OWNER_OF_RECORD)  # existing jobs are personal: the same counts


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":  # dropping a column rebuilds the table: its drop must not cascade into child rows
        op.execute("PRAGMA foreign_keys=OFF")
    with op.batch_alter_table("audit_logs") as batch:
        batch.drop_column("team_id")
    op.drop_index("ix_alert_channels_team_id", table_name="alert_channels")
    with op.batch_alter_table("alert_channels") as batch:
        batch.drop_constraint("fk_alert_channels_team", type_="foreignkey")
        batch.drop_column("team_id")
    op.drop_index("ix_api_tokens_team_id", table_name="api_tokens")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_constraint("fk_api_tokens_team", type_="foreignkey")
        batch.drop_column("team_id")
    if dialect == "postgresql":  # the trigger names team_id: it goes before the column
        for statement in _counter_statements(_BY_USER, dialect):
            op.execute(statement)
    op.drop_index("ix_cron_jobs_team_created", table_name="cron_jobs")
    with op.batch_alter_table("cron_jobs") as batch:
        batch.drop_constraint("fk_cron_jobs_team", type_="foreignkey")
        batch.drop_column("team_id")
    if dialect == "sqlite":
        for statement in _counter_statements(_BY_USER, dialect):
            op.execute(statement)
    _recount(_BY_USER)
    op.drop_index("ix_team_members_user", table_name="team_members")
    op.drop_table("team_members")
    op.drop_table("teams")
    if dialect == "sqlite":
        op.execute("PRAGMA foreign_keys=ON")
