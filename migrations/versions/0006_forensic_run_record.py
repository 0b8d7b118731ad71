"""forensic run record: request, timings, remote address, job version, retry chain; job versions

Revision ID: 0006
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    with op.batch_alter_table("cron_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    with op.batch_alter_table("cron_executions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("timings_ms", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("remote_addr", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("job_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("first_attempt_id", BigId, nullable=True))
    op.create_table(
        "job_versions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("cron_job_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("changed_by", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["cron_job_id"], ["cron_jobs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["changed_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("cron_job_id", "version", name="uq_job_versions_job_version"),
    )


def downgrade():
    op.drop_table("job_versions")
    with op.batch_alter_table("cron_executions", schema=None) as batch_op:
        batch_op.drop_column("first_attempt_id")
        batch_op.drop_column("job_version")
        batch_op.drop_column("remote_addr")
        batch_op.drop_column("timings_ms")
        batch_op.drop_column("request")
    with op.batch_alter_table("cron_jobs", schema=None) as batch_op:
        batch_op.drop_column("version")
