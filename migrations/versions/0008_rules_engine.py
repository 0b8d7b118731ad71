"""rules engine: effective-schedule fields on jobs, throttle/offset history, rules seeded with the defaults

Revision ID: 0008
Revises: 0003
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

_STATS = {"window": 10, "min_runs": 5, "max_factor": 16, "cooldown_runs": 10}
DEFAULT_RULES = (
    ("timeout", "timeout", 10, {**_STATS, "min_timeouts": 3}),
    ("failure", "failure", 20, {**_STATS, "failure_pct": 50}),
    ("recovery", "success", 30, {**_STATS, "success_pct": 95}),
    ("load", "load", 40, {"threshold": 20, "window_s": 60, "cooldown_runs": 10}),
)


def upgrade():
    with op.batch_alter_table("cron_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("throttle_factor", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("spread_offset_s", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("throttle_anchor_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("rules_changed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("schedule_changes", schema=None) as batch_op:
        for name in ("old_throttle_factor", "new_throttle_factor", "old_spread_offset_s", "new_spread_offset_s"):
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))
    rules = op.create_table(
        "reschedule_rules",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "rule_proposals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("cron_job_id", sa.String(length=36), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("from_throttle_factor", sa.Integer(), nullable=False),
        sa.Column("from_spread_offset_s", sa.Integer(), nullable=False),
        sa.Column("to_throttle_factor", sa.Integer(), nullable=False),
        sa.Column("to_spread_offset_s", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["cron_job_id"], ["cron_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rule_proposals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rule_proposals_cron_job_id"), ["cron_job_id"], unique=False)
    now = datetime.now(UTC)
    op.bulk_insert(rules, [{"name": n, "kind": k, "priority": p, "enabled": True, "params": params,
                            "updated_at": now, "updated_by": None} for n, k, p, params in DEFAULT_RULES])


def downgrade():
    with op.batch_alter_table("rule_proposals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rule_proposals_cron_job_id"))
    op.drop_table("rule_proposals")
    op.drop_table("reschedule_rules")
    with op.batch_alter_table("schedule_changes", schema=None) as batch_op:
        for name in ("new_spread_offset_s", "old_spread_offset_s", "new_throttle_factor", "old_throttle_factor"):
            batch_op.drop_column(name)
    with op.batch_alter_table("cron_jobs", schema=None) as batch_op:
        for name in ("rules_changed_at", "throttle_anchor_at", "spread_offset_s", "throttle_factor"):
            batch_op.drop_column(name)
