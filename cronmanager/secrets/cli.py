"""`flask secrets rotate`: re-encrypt every stored secret (jobs', two-factor) under the first ENCRYPTION_KEY."""

from __future__ import annotations

from typing import cast

import click
from flask.cli import AppGroup
from sqlalchemy import select, update

from cronmanager.extensions import db, dml_rowcount
from cronmanager.models import CronJob, User
from cronmanager.secrets.keyring import keyring

secrets_cli = AppGroup("secrets", help="Manage the encryption of stored secrets.")
BATCH = 500


@secrets_cli.command("rotate")
def rotate_command() -> None:
    """Put the new key first in ENCRYPTION_KEY (old keys after it), run this, then remove the old keys."""
    ring = keyring()
    done, last_id = 0, ""
    while True:
        rows = db.session.execute(
            select(CronJob.id, CronJob.sealed_secrets).where(CronJob.sealed_secrets.is_not(None), CronJob.id > last_id)
            .order_by(CronJob.id).limit(BATCH)).all()
        if not rows:
            break
        for job_id, token in rows:
            # conditional on the token read, so a job saved meanwhile keeps its newer secrets (already new-key)
            done += dml_rowcount(
                update(CronJob).where(CronJob.id == job_id, CronJob.sealed_secrets == token)
                .values(sealed_secrets=ring.rotate(cast(str, token).encode()).decode()))  # selected non-null
        db.session.commit()
        last_id = rows[-1][0]
    click.echo(f"Re-encrypted the secrets of {done} job(s) under the first key.")
    click.echo(f"Re-encrypted the two-factor secrets of {_rotate_totp_secrets()} user(s).")


def _rotate_totp_secrets() -> int:
    """The users' TOTP secrets are sealed with the same keys (cronmanager.auth.totp)."""
    ring = keyring()
    rows = db.session.execute(select(User.id, User.totp_secret).where(User.totp_secret.is_not(None))).all()
    done = 0
    for user_id, token in rows:
        done += dml_rowcount(
            update(User).where(User.id == user_id, User.totp_secret == token)
            .values(totp_secret=ring.rotate(cast(str, token).encode()).decode()))
    db.session.commit()
    return done
