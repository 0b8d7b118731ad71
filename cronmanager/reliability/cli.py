"""`flask health rebuild`: recount the jobs' hourly health rollups from the executions.

For an upgrade (rollups start empty), or after restoring executions from a backup. Hours older than the oldest
execution left by retention keep their rollups unless `--since` says otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask.cli import with_appcontext

from cronmanager.execution import rollups
from cronmanager.extensions import db
from cronmanager.reliability import ranking


@click.command("rebuild")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"]), default=None,
              help="First hour to recount (UTC); default: the oldest execution's.")
@with_appcontext
def rebuild_command(since: datetime | None) -> None:
    """Replace the health rollups from --since on with a count of the executions, in one transaction; then the
    jobs' `sort=health` ranks are summed again from them."""
    written = rollups.rebuild(since.replace(tzinfo=UTC) if since else None)
    db.session.commit()
    ranking.refresh(everything=True)
    click.echo(f"rebuilt {written} job-hour rollups")
