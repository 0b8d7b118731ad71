"""audit analysis: networks and before/after values on audit rows, reviewable security events with dotted kinds

Revision ID: 0009
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)
FAILURES = sa.text("action IN ('auth.login_failed', 'auth.credential_failed')")
KINDS = {  # old name -> SPEC §11 dotted name
    "login_lockout": "auth.lockout",
    "token_new_ip": "token.new_ip",
    "revoked_token_used": "token.revoked_used",
    "expired_token_used": "token.expired_used",
    "token_ip_refused": "token.ip_refused",
}


def _rename_kinds(mapping: dict[str, str]) -> None:
    events = sa.table("security_events", sa.column("kind", sa.String))
    for old, new in mapping.items():
        op.execute(events.update().where(events.c.kind == old).values(kind=new))


def upgrade():
    with op.batch_alter_table("audit_logs") as batch:
        batch.add_column(sa.Column("ip_network", sa.String(length=49), nullable=True))
        batch.add_column(sa.Column("changes", sa.JSON(), nullable=True))
    op.create_index("ix_audit_token_network", "audit_logs", ["token_id", "ip_network", "timestamp"])
    op.create_index("ix_audit_user_network", "audit_logs", ["user_id", "token_id", "ip_network", "timestamp"])
    op.create_index("ix_audit_auth_failures", "audit_logs", ["ip_address", "timestamp"],
                    postgresql_where=FAILURES, sqlite_where=FAILURES)
    with op.batch_alter_table("security_events") as batch:
        batch.add_column(sa.Column("subject", sa.String(length=160), nullable=True))
        batch.add_column(sa.Column("reviewed_at", UTC_DATETIME, nullable=True))
        batch.add_column(sa.Column("reviewed_by", sa.String(length=36), nullable=True))
        batch.create_foreign_key("fk_security_events_reviewed_by", "users", ["reviewed_by"], ["id"],
                                 ondelete="SET NULL")
    op.create_index("ix_security_events_subject", "security_events", ["kind", "subject", "created_at"])
    op.create_index("ix_notifications_created_at", "notifications", ["created_at"])
    op.create_index("ix_schedule_changes_changed_at", "schedule_changes", ["changed_at"])
    _rename_kinds(KINDS)


def downgrade():
    _rename_kinds({new: old for old, new in KINDS.items()})
    op.drop_index("ix_schedule_changes_changed_at", table_name="schedule_changes")
    op.drop_index("ix_notifications_created_at", table_name="notifications")
    op.drop_index("ix_security_events_subject", table_name="security_events")
    with op.batch_alter_table("security_events") as batch:
        batch.drop_constraint("fk_security_events_reviewed_by", type_="foreignkey")
        batch.drop_column("reviewed_by")
        batch.drop_column("reviewed_at")
        batch.drop_column("subject")
    op.drop_index("ix_audit_auth_failures", table_name="audit_logs")
    op.drop_index("ix_audit_user_network", table_name="audit_logs")
    op.drop_index("ix_audit_token_network", table_name="audit_logs")
    with op.batch_alter_table("audit_logs") as batch:
        batch.drop_column("changes")
        batch.drop_column("ip_network")
