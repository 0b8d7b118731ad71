"""`flask users create --email --password --role`: the way to get a first admin on a new install."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from cronmanager.audit.recorder import record
from cronmanager.auth.users import UserError, create_user
from cronmanager.extensions import db

users_cli = AppGroup("users", help="Manage user accounts.")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", type=click.Choice(["ADMIN", "USER", "READ_ONLY"]), default=None,
              help="Defaults to ADMIN for the first user, USER afterwards.")
@click.option("--timezone", default="UTC")
def create_user_command(email: str, password: str, role: str | None, timezone: str) -> None:
    try:
        user = create_user(email, password, role, timezone)
    except UserError as err:
        raise click.ClickException(f"{err.field}: {err}") from None
    record("user.create", resource_type="user", resource_id=user.id, payload={"email": user.email, "role": user.role,
                                                                              "via": "cli"})
    db.session.commit()
    click.echo(f"Created {user.role} {user.email} ({user.id})")
