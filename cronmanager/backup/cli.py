"""`flask backup DIR` and `flask restore DIR [--force]`: one-line errors, a short summary, never a key."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from cronmanager.backup import service
from cronmanager.backup.manifest import BackupError


@click.command("backup")
@with_appcontext
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def backup_command(directory: Path) -> None:
    """Back up the database, the retention archives and a manifest into DIRECTORY (new or empty)."""
    try:
        made = service.create(directory, current_app.config)
    except BackupError as err:
        raise click.ClickException(str(err)) from None
    archived = sum(1 for f in made.files if f.path.startswith("archive/"))
    click.echo(f"Backed up the {made.database} database (schema {made.schema_revision or 'none'}) and {archived} "
               f"archive(s) to {directory}; key fingerprint(s) needed to restore: "
               f"{', '.join(made.keys_in_use) or 'none (no stored secrets)'}")


@click.command("restore")
@with_appcontext
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace the contents of a non-empty database and differing archives.")
def restore_command(directory: Path, force: bool) -> None:
    """Restore a backup made by `flask backup` into the configured (empty) database and ARCHIVE_DIR."""
    try:
        done = service.restore(directory, current_app.config, force=force)
    except BackupError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"Restored schema {done.schema_revision or 'none'} and {done.archives_copied} archive(s) from "
               f"{directory}. If this release is newer than the backup, run `flask db upgrade` next.")
