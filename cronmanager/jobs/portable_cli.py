"""`flask jobs export` and `flask jobs import`: jobs as code from a shell or a CI pipeline (SPEC §17)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from cronmanager.audit.recorder import record
from cronmanager.auth.principal import Principal
from cronmanager.errors import ApiError
from cronmanager.extensions import db
from cronmanager.jobs import portable
from cronmanager.models import User

jobs_cli = AppGroup("jobs", help="Export and import jobs as YAML or JSON documents.")


def _user(email: str) -> User:
    user = db.session.execute(select(User).where(func.lower(User.email) == email.strip().lower())).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"No user with e-mail {email}")
    return user


@jobs_cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
@click.option("--owner", "owner_email", default=None, help="Only this user's jobs (default: every job).")
def export_command(fmt: str, owner_email: str | None) -> None:
    """Write the jobs document to stdout."""
    owner_id = _user(owner_email).id if owner_email else None
    document = portable.export_document(portable.jobs_of(owner_id))
    click.echo(portable.render(document, portable.DocumentFormat(fmt)), nl=False)


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def plan_text(plan: dict[str, Any]) -> str:
    """The plan as a readable diff: + create, ~ update (field: old -> new), - delete, ! error."""
    lines = [f"+ create  {name}" for name in plan["create"]]
    for update in plan["update"]:
        lines.append(f"~ update  {update['name']}")
        lines += [f"      {key}: {_show(old)} -> {_show(new)}" for key, (old, new) in update["changes"].items()]
    lines += [f"- delete  {name}" for name in plan["delete"]]
    for error in plan["errors"]:
        lines.append(f"! error   {error['name']}")
        lines += [f"      {key}: {message}" for key, message in error["fields"].items()]
    lines.append(f"Plan: {len(plan['create'])} to create, {len(plan['update'])} to update, "
                 f"{len(plan['delete'])} to delete, {plan['unchanged']} unchanged, {len(plan['errors'])} with errors.")
    return "\n".join(lines)


@jobs_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "as_email", required=True, help="Import into this user's jobs, with this user's rights.")
@click.option("--apply", "do_apply", is_flag=True, help="Make the changes (default: only print the plan).")
@click.option("--prune", is_flag=True, help="Also delete this user's jobs that the file does not list.")
def import_command(file: Path, as_email: str, do_apply: bool, prune: bool) -> None:
    """Print the plan for FILE (YAML, or JSON when it ends in .json); exit code 1 when it has errors."""
    user = _user(as_email)
    p = Principal(user=user, scopes=user.allowed_scopes(), via="cli")
    needed = {"write", "delete"} if prune else {"write"}
    if not user.is_active or not needed <= p.scopes:
        raise click.ClickException(f"{user.email} may not {'delete' if prune else 'change'} jobs")
    fmt = portable.DocumentFormat.JSON if file.suffix.lower() == ".json" else portable.DocumentFormat.YAML
    try:
        entries = portable.parse_document(file.read_bytes(), fmt, max_bytes=None)
        if do_apply:
            portable.lock_owner(user)
        plan = portable.build_plan(entries, user, prune=prune)
    except ApiError as err:
        raise click.ClickException(err.message) from None
    result = plan.to_json()
    click.echo(plan_text(result))
    if not plan.ok:
        if do_apply:
            click.echo("Nothing was changed.")
        raise SystemExit(1)
    if not do_apply:
        return
    events = portable.apply_plan(p, plan, user, source="cli")
    record("cron.import", status=200, resource_type="cron", user_id=user.id,
           payload=portable.audit_payload(plan, mode="apply", prune=prune, owner=user, source="cli"))
    db.session.commit()
    portable.publish_events(events)
    click.echo("Applied." if not plan.empty else "Nothing to do.")
