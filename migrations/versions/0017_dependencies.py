"""job dependencies (run_after), jobs without a cron expression, the parent execution of a dependency fire

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

from cronmanager.lib.sqlite_rebuild import triggers_kept

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_dependencies",
        sa.Column("job_id", sa.String(36), sa.ForeignKey("cron_jobs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("upstream_id", sa.String(36), sa.ForeignKey("cron_jobs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("on", sa.String(10), nullable=False),
        sa.Column("delay_s", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
    )
    op.create_index("ix_job_dependencies_upstream", "job_dependencies", ["upstream_id"])
    with triggers_kept(op.get_bind(), "cron_jobs"), op.batch_alter_table("cron_jobs") as batch:
        batch.alter_column("cron_expression", existing_type=sa.String(200), nullable=True)
    with op.batch_alter_table("schedule_changes") as batch:
        batch.alter_column("new_cron_expression", existing_type=sa.String(200), nullable=True)
    with op.batch_alter_table("cron_executions") as batch:
        batch.add_column(sa.Column("parent_execution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                                   nullable=True))
    # NULLs are distinct in a unique index: every other execution row leaves it alone
    op.create_index("uq_execution_job_parent", "cron_executions", ["cron_job_id", "parent_execution_id"],
                    unique=True)


def downgrade() -> None:
    op.drop_index("uq_execution_job_parent", table_name="cron_executions")
    with op.batch_alter_table("cron_executions") as batch:
        batch.drop_column("parent_execution_id")
    # jobs that run only after others get no schedule back: they are disabled with a placeholder expression
    op.execute("UPDATE cron_jobs SET is_active = false, next_run_at = NULL, cron_expression = '0 0 1 1 *'"
               " WHERE cron_expression IS NULL")
    op.execute("UPDATE schedule_changes SET new_cron_expression = '' WHERE new_cron_expression IS NULL")
    with op.batch_alter_table("schedule_changes") as batch:
        batch.alter_column("new_cron_expression", existing_type=sa.String(200), nullable=False)
    with triggers_kept(op.get_bind(), "cron_jobs"), op.batch_alter_table("cron_jobs") as batch:
        batch.alter_column("cron_expression", existing_type=sa.String(200), nullable=False)
    op.drop_index("ix_job_dependencies_upstream", table_name="job_dependencies")
    op.drop_table("job_dependencies")
