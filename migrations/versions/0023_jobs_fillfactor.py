"""cron_jobs pages keep room for their rows' next versions (fillfactor 70)

Every fire writes its job's row twice (RUNNING when it starts, the outcome and counters when it ends); neither
changes an indexed column, so PostgreSQL can write the new version on the same page without touching the seven
indexes (a HOT update), but only when the page has room. Packed full (the default, 100), those writes went to
other pages and added an entry to every index each time.

Revision ID: 0023
Revises: 0022
"""

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE cron_jobs SET (fillfactor = 70)")  # applies to pages written from now on


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE cron_jobs RESET (fillfactor)")
