"""job secrets encrypted at rest: cron_jobs.sealed_secrets, existing values moved into it

Revision ID: 0005
Revises: 0007

Existing secret values (SPEC §6) are moved out of headers, query_params and endpoint_url into a Fernet token
under the app's keys (ENCRYPTION_KEY, or the key derived from SECRET_KEY), leaving `***` in their place.
Downgrade puts them back in clear. The configurations kept per job version (0006) are masked the same way
(history shows `***`; downgrade cannot bring those back, and does not need to).
"""

import json

import sqlalchemy as sa
from alembic import op
from flask import current_app

from cronmanager.secrets import fields
from cronmanager.secrets.keyring import keyring

revision = "0005"
down_revision = "0007"
branch_labels = None
depends_on = None

jobs = sa.table("cron_jobs", sa.column("id", sa.String), sa.column("headers", sa.JSON),
                sa.column("query_params", sa.JSON), sa.column("endpoint_url", sa.String),
                sa.column("sealed_secrets", sa.Text))
versions = sa.table("job_versions", sa.column("id", sa.Integer), sa.column("config", sa.JSON))


def upgrade():
    with op.batch_alter_table("cron_jobs") as batch:
        batch.add_column(sa.Column("sealed_secrets", sa.Text(), nullable=True))
    conn = op.get_bind()
    ring = keyring(current_app.config)
    for row in conn.execute(sa.select(jobs.c.id, jobs.c.headers, jobs.c.query_params, jobs.c.endpoint_url)):
        split = fields.split(row.headers or {}, row.query_params or {}, row.endpoint_url or "")
        if split.found:
            conn.execute(jobs.update().where(jobs.c.id == row.id).values(
                headers=split.headers, query_params=split.query_params, endpoint_url=split.endpoint_url,
                sealed_secrets=ring.encrypt(json.dumps(split.found, sort_keys=True).encode()).decode()))
    for row in conn.execute(sa.select(versions.c.id, versions.c.config)).all():
        config = dict(row.config or {})
        split = fields.split(config.get("headers") or {}, config.get("query_params") or {},
                             config.get("endpoint_url") or "")
        if split.found:
            config.update(headers=split.headers, query_params=split.query_params, endpoint_url=split.endpoint_url)
            conn.execute(versions.update().where(versions.c.id == row.id).values(config=config))


def downgrade():
    conn = op.get_bind()
    ring = keyring(current_app.config)
    rows = conn.execute(sa.select(jobs.c.id, jobs.c.headers, jobs.c.query_params, jobs.c.endpoint_url,
                                  jobs.c.sealed_secrets).where(jobs.c.sealed_secrets.is_not(None))).all()
    for row in rows:
        secrets = json.loads(ring.decrypt(row.sealed_secrets.encode()))
        headers, params, url = fields.reveal(row.headers or {}, row.query_params or {}, row.endpoint_url, secrets)
        conn.execute(jobs.update().where(jobs.c.id == row.id).values(headers=headers, query_params=params,
                                                                        endpoint_url=url))
    with op.batch_alter_table("cron_jobs") as batch:
        batch.drop_column("sealed_secrets")
