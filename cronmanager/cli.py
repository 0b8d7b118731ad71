"""`flask users create|list|set-role|deactivate|reset-2fa`: a first admin on a new install, offboarding, and a
way back in for someone who lost their second factor, from a shell."""

from __future__ import annotations

from typing import TypedDict, Unpack

import click
from flask.cli import AppGroup

from cronmanager.audit.recorder import record
from cronmanager.auth.users import UserError, create_user
from cronmanager.errors import ApiError
from cronmanager.extensions import db
from cronmanager.users.service import UserRow, change_user, find_user, reset_second_factor, users_stmt

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


@users_cli.command("list")
def list_users_command() -> None:
    """Every account: e-mail, role, active, last sign-in, live API tokens, jobs."""
    rows = [UserRow(*r) for r in db.session.execute(users_stmt()).all()]
    for r in rows:
        last = r.last_sign_in_at.isoformat(timespec="seconds") if r.last_sign_in_at else "never"
        click.echo(f"{r.user.id}  {r.user.email:<40} {r.user.role:<9} {'active' if r.user.is_active else 'INACTIVE':<8}"
                   f"  last sign-in {last}  tokens {r.active_tokens}  jobs {r.jobs}")
    click.echo(f"{len(rows)} user(s)")


class _UserChange(TypedDict, total=False):
    role: str
    is_active: bool


def _change(ref: str, **values: Unpack[_UserChange]) -> None:
    try:
        user = find_user(ref)
        changes = change_user(user, **values)
    except ApiError as err:
        db.session.rollback()
        raise click.ClickException(err.message) from None
    record("user.update", resource_type="user", resource_id=user.id, payload={**values, "via": "cli"},
           changes=changes)
    db.session.commit()
    click.echo(f"{user.email}: role {user.role}, {'active' if user.is_active else 'deactivated'}")


@users_cli.command("set-role")
@click.argument("user")
@click.argument("role", type=click.Choice(["ADMIN", "USER", "READ_ONLY"]))
def set_role_command(user: str, role: str) -> None:
    """USER is an id or e-mail. The last active ADMIN cannot be demoted."""
    _change(user, role=role)


@users_cli.command("deactivate")
@click.argument("user")
@click.option("--reactivate", is_flag=True, help="Let the account sign in again.")
def deactivate_command(user: str, reactivate: bool) -> None:
    """USER is an id or e-mail. Refused from the next request on (session, login and API tokens); jobs keep running."""
    _change(user, is_active=reactivate)


@users_cli.command("reset-2fa")
@click.argument("user")
def reset_2fa_command(user: str) -> None:
    """USER is an id or e-mail. Removes their second factor (the only way back for an administrator who lost both
    the device and the recovery codes) and ends every session and token of theirs."""
    try:
        account = find_user(user)
        reset_second_factor(account)
    except ApiError as err:
        db.session.rollback()
        raise click.ClickException(err.message) from None
    record("user.2fa_reset", resource_type="user", resource_id=account.id, payload={"via": "cli"})
    db.session.commit()
    click.echo(f"{account.email}: two-factor authentication removed; every session and token of theirs ended")
