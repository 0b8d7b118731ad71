"""Cron Manager: calls HTTP endpoints on cron schedules and shows every run live."""

from __future__ import annotations

from typing import TYPE_CHECKING

from config import BASE_DIR, Config, load_config

if TYPE_CHECKING:
    from flask import Flask

MIGRATIONS_DIR = BASE_DIR / "migrations"


def create_app(config: Config | None = None) -> Flask:
    """Build the app; nothing is connected or configured at import time."""
    # Flask and redis import ssl: they are imported here, not with the package, because gunicorn's master imports
    # cronmanager.logging_setup (its logger class) before the gevent workers patch ssl
    from flask import Flask

    from cronmanager.api import edge
    from cronmanager.api.errors import register_error_handlers
    from cronmanager.api.jsonprovider import JSONProvider
    from cronmanager.extensions import csrf, db, limiter, login_manager, migrate
    from cronmanager.lib import redis_client
    from cronmanager.logging_setup import configure_logging
    from cronmanager.observability.tracing import init_tracing

    app = Flask(__name__, instance_relative_config=False)
    app.json = JSONProvider(app)
    cfg = config or load_config()
    app.config.from_object(cfg)
    app.config["ENV_NAME"] = cfg.ENV_NAME
    configure_logging(app)
    init_tracing(app)

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        from pathlib import Path

        Path(app.config["SQLALCHEMY_DATABASE_URI"][len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30}}

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # bulk UPDATEs of fire results and next_run_at go through psycopg2's execute_batch, not row by row;
        # a pooled connection is tested on checkout, so after a failover (a multi-host DATABASE_URL) or a restart
        # no request or fire meets a dead one (one round trip per checkout: fires are claimed and recorded in batches)
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**app.config["SQLALCHEMY_ENGINE_OPTIONS"],
                                                   "executemany_mode": "values_plus_batch",
                                                   "pool_size": 10, "max_overflow": 20, "pool_pre_ping": True}

    # a blocking pool: under gevent many greenlets share it, and redis-py 8 fails at once when a plain pool is full
    app.extensions["redis"] = redis_client.connect(app.config, max_connections=app.config["REDIS_MAX_CONNECTIONS"],
                                                   timeout=10, health_check_interval=30)
    storage_uri, storage_options = redis_client.limiter_storage(app.config)
    app.config["RATELIMIT_STORAGE_URI"] = storage_uri
    app.config["RATELIMIT_KEY_PREFIX"] = f"{app.config['REDIS_PREFIX']}:rl"
    # the limits library puts its own "LIMITS:" in front of every key unless told otherwise
    app.config["RATELIMIT_STORAGE_OPTIONS"] = {**storage_options, "key_prefix": f"{app.config['REDIS_PREFIX']}:limits"}
    app.config["RATELIMIT_HEADERS_ENABLED"] = True

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    edge.install(app)

    from cronmanager.api.converters import IdConverter

    app.url_map.converters["uuid"] = IdConverter  # like werkzeug's, but ids stay strings
    _register_blueprints(app)
    _register_execution_hooks(app)
    _register_job_versioning()
    from cronmanager.audit import detectors

    detectors.install()  # audit analysis after every commit that wrote audit rows (SPEC §11)
    register_error_handlers(app)
    _security_headers(app)
    _register_cli(app)
    _sqlite_pragmas(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from cronmanager.alerts.api import alerts_api
    from cronmanager.api import api_bp
    from cronmanager.api.openapi import spec
    from cronmanager.audit.api import audit_api
    from cronmanager.auth.api import auth_api
    from cronmanager.auth.oidc_views import sso_pages
    from cronmanager.auth.usage_api import count_token_request, usage_api
    from cronmanager.auth.views import auth_pages
    from cronmanager.calendars.api import calendars_api
    from cronmanager.events.stream import events_api
    from cronmanager.extensions import csrf
    from cronmanager.health import health_bp
    from cronmanager.jobs.api import jobs_api
    from cronmanager.jobs.bulk import jobs_bulk_api
    from cronmanager.jobs.portable_api import jobs_portable_api
    from cronmanager.jobs.versions_api import job_versions_api
    from cronmanager.logs.api import logs_api
    from cronmanager.monitoring.api import monitoring_api
    from cronmanager.monitoring.metrics import metrics_bp
    from cronmanager.monitoring.system_api import system_api
    from cronmanager.reliability.api import reliability_api
    from cronmanager.reliability.badge_api import badges_api, badges_public
    from cronmanager.rules.api import rules_api
    from cronmanager.teams.api import teams_api
    from cronmanager.users.api import users_api
    from cronmanager.web.views import web

    api_bp.register_blueprint(auth_api)
    api_bp.register_blueprint(jobs_api)
    api_bp.register_blueprint(jobs_portable_api)
    api_bp.register_blueprint(audit_api)
    api_bp.register_blueprint(logs_api)
    api_bp.register_blueprint(monitoring_api)
    api_bp.register_blueprint(alerts_api)
    api_bp.register_blueprint(events_api)
    api_bp.register_blueprint(rules_api)
    api_bp.register_blueprint(users_api)
    api_bp.register_blueprint(jobs_bulk_api)
    api_bp.register_blueprint(job_versions_api)
    api_bp.register_blueprint(teams_api)
    api_bp.register_blueprint(reliability_api)
    api_bp.register_blueprint(badges_api)
    api_bp.register_blueprint(usage_api)
    api_bp.register_blueprint(system_api)
    api_bp.register_blueprint(calendars_api)
    # cookie-authenticated API calls are checked in authenticate(); Flask-WTF matches nested blueprints one by one
    for blueprint in (api_bp, auth_api, jobs_api, audit_api, logs_api, monitoring_api, alerts_api, events_api,
                      rules_api, users_api, jobs_bulk_api, job_versions_api, teams_api):
        csrf.exempt(blueprint)
    csrf.exempt(jobs_portable_api)
    csrf.exempt(reliability_api)
    csrf.exempt(badges_api)
    csrf.exempt(usage_api)
    csrf.exempt(system_api)
    csrf.exempt(calendars_api)
    app.register_blueprint(api_bp)
    app.register_blueprint(auth_pages)
    app.register_blueprint(sso_pages)
    app.register_blueprint(health_bp)
    app.register_blueprint(web)
    app.register_blueprint(metrics_bp)
    app.register_blueprint(badges_public)
    app.after_request(count_token_request)
    _mount_rq_dashboard(app)
    spec.register(app)
    for name in list(app.view_functions):
        if name.startswith(("openapi_", "doc_page")):
            csrf.exempt(app.view_functions[name])


def _register_execution_hooks(app: Flask) -> None:
    """What follows a committed batch of fire outcomes: live events, metrics, alerts (in that order)."""
    from cronmanager.alerts.triggers import on_outcomes
    from cronmanager.events.executions import publish_recorded
    from cronmanager.execution.recording import register_after_commit
    from cronmanager.monitoring.collect import record_outcomes

    register_after_commit(app, publish_recorded)
    register_after_commit(app, lambda recorded: record_outcomes(recorded.finished))
    register_after_commit(app, lambda recorded: on_outcomes(recorded.finished))


def _register_job_versioning() -> None:
    from cronmanager.jobs.versions import register_versioning

    register_versioning()


def _mount_rq_dashboard(app: Flask) -> None:
    """Hook for rq-dashboard at /rq (admins only); filled in by the dashboard work."""
    from cronmanager.web.rq_admin import mount

    mount(app)


def _security_headers(app: Flask) -> None:
    from flask_cors import CORS
    from flask_talisman import Talisman
    from werkzeug.middleware.proxy_fix import ProxyFix

    if app.config["PROXY_COUNT"]:
        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]  # wrapping middleware
    production = app.config["ENV_NAME"] == "production"
    Talisman(
        app,
        force_https=False,
        strict_transport_security=production,
        session_cookie_secure=production,
        frame_options="DENY",
        content_security_policy={
            "default-src": "'self'", "img-src": "'self' data:", "style-src": "'self'",
            "script-src": "'self'", "connect-src": "'self'", "object-src": "'none'",
            "base-uri": "'self'", "frame-ancestors": "'none'", "form-action": "'self'",
        },
        content_security_policy_nonce_in=["script-src"],
    )
    if app.config["CORS_ORIGINS"]:
        CORS(app, resources={r"/api/*": {"origins": app.config["CORS_ORIGINS"]}},
             allow_headers=["Authorization", "Content-Type", "Last-Event-ID"], supports_credentials=False)


def _register_cli(app: Flask) -> None:
    from cronmanager.backup.cli import backup_command, restore_command
    from cronmanager.cli import users_cli
    from cronmanager.jobs.portable_cli import jobs_cli
    from cronmanager.process_health import health_command
    from cronmanager.processes import scheduler_command, worker_command
    from cronmanager.reliability.cli import rebuild_command
    from cronmanager.secrets.cli import secrets_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(worker_command)
    app.cli.add_command(scheduler_command)
    app.cli.add_command(secrets_cli)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    health_command.add_command(rebuild_command)
    app.cli.add_command(health_command)


def _sqlite_pragmas(app: Flask) -> None:
    """WAL lets the scheduler, workers and web read while one writes the embedded SQLite file."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    from sqlalchemy import event

    from cronmanager.extensions import db

    with app.app_context():
        @event.listens_for(db.engine, "connect")
        def _on_connect(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

