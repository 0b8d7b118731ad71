"""`flask health --process worker|scheduler`: the container health check of the two background processes
(`flask health rebuild`, the jobs' health rollups, is added to this group by create_app).

They serve no HTTP, so the image's HTTP check cannot see them; each writes a heartbeat key in Redis named
after its host (worker: every WORKER_HEARTBEAT_TTL_S / 3, with that TTL; scheduler: every second, 15 s TTL,
leader or standby, database reachable or not). The command exits 0 when a process of that kind on this host
has a live heartbeat, 1 otherwise (including when Redis cannot be reached).
"""

from __future__ import annotations

import socket

import click
from flask import current_app
from flask.cli import with_appcontext

from cronmanager.extensions import keys
from cronmanager.lib import redis_client
from cronmanager.lib.redis_keys import ProcessKind, live_heartbeats

PROBE_TIMEOUT_S = 2.0


@click.group("health", invoke_without_command=True)
@click.option("--process", "process", type=click.Choice([p.value for p in ProcessKind]), default=None,
              help="Which background process on this host to check.")
@click.pass_context
@with_appcontext
def health_command(ctx: click.Context, process: str | None) -> None:
    """With --process: exit 0 if a worker/scheduler on this host has a live heartbeat, else 1.
    Subcommands look after the jobs' health rollups."""
    if ctx.invoked_subcommand is not None:
        return
    if process is None:
        raise click.UsageError("Missing option '--process' (or a subcommand).")
    kind = ProcessKind(process)
    host = socket.gethostname()
    r = redis_client.connect(current_app.config, socket_connect_timeout=PROBE_TIMEOUT_S,
                       socket_timeout=PROBE_TIMEOUT_S, retry_on_timeout=False)
    try:
        ages = live_heartbeats(r, keys(), kind, host)
    except Exception as err:  # any Redis failure means "cannot tell": unhealthy
        click.echo(f"unhealthy: redis unavailable ({type(err).__name__})", err=True)
        raise SystemExit(1) from None
    if not ages:
        click.echo(f"unhealthy: no live {kind.value} heartbeat on {host}", err=True)
        raise SystemExit(1)
    freshest = min(ages.values())
    click.echo(f"ok: {len(ages)} {kind.value} process(es) on {host}, last beat {freshest:.1f} s ago")
