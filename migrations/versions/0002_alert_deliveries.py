"""alert deliveries and job alert states

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "alert_deliveries",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("channel_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=2048), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("cron_job_id", sa.String(length=36), nullable=True),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["channel_id"], ["alert_channels.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["cron_job_id"], ["cron_jobs.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_alert_deliveries_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_alert_deliveries_created", ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_deliveries_channel_id"), ["channel_id"], unique=False)

    op.create_table(
        "job_alert_states",
        sa.Column("cron_job_id", sa.String(length=36), nullable=False),
        sa.Column("failing", sa.Boolean(), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["cron_job_id"], ["cron_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("cron_job_id"),
    )


def downgrade():
    op.drop_table("job_alert_states")
    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_deliveries_channel_id"))
        batch_op.drop_index("ix_alert_deliveries_created")
        batch_op.drop_index("ix_alert_deliveries_due")
    op.drop_table("alert_deliveries")
