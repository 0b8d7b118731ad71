"""rq-dashboard mounted at /rq for admins only.

The guard is an app-level before_request: a guard on rq-dashboard's own blueprint runs after its connection
hook, too late to answer 401/403 cleanly. rq-dashboard's pages use an inline script and underscore templates
(`new Function`), so its responses get a CSP that allows them; its POST actions carry no CSRF token, so they
are exempt from Flask-WTF and instead must come from our own origin (Origin/Referer check), as must the one
route that requeues on a GET.

rq-dashboard 0.9 imports RQ's classes by name and offers no setting for others, so on mount its module-level
names are pointed at stand-ins that resolve, on each request, to the current app's namespaced classes
(`cronmanager.rq_namespace`): the dashboard sees this deployment's queues, jobs and workers, and its actions
(requeue, delete, empty) write under REDIS_PREFIX. Several apps in one process each see their own.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from flask import Flask, Response, abort, current_app, request
from flask_login import current_user
from redis import Redis
from rq.job import Job

from cronmanager.auth import login_policy, two_factor
from cronmanager.extensions import csrf, login_manager
from cronmanager.lib import redis_client
from cronmanager.rq_namespace import RQNamespace, rq_namespace

RQ_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
          "script-src 'self' 'unsafe-inline' 'unsafe-eval'; connect-src 'self'; object-src 'none'; "
          "base-uri 'self'; frame-ancestors 'none'; form-action 'self'")


# rq-dashboard routes that change state on a plain GET too (a link or <img> on another site could fire them)
STATE_CHANGING_GETS = frozenset({"rq_dashboard.requeue_all"})


# the RQ names rq_dashboard.web uses to build objects (BaseRegistry, used for isinstance only, stays RQ's)
DASHBOARD_CLASSES = ("Queue", "Worker", "Job", "FailedJobRegistry", "DeferredJobRegistry", "StartedJobRegistry",
                     "FinishedJobRegistry", "ScheduledJobRegistry", "CanceledJobRegistry")


def _same_origin() -> bool:
    source = request.headers.get("Origin") or request.headers.get("Referer")
    return bool(source) and urlparse(source).netloc == request.host


def _namespace() -> RQNamespace:
    return rq_namespace(current_app.config["REDIS_PREFIX"])


class _CurrentAppClass:
    """Stands in for one RQ class inside rq_dashboard.web: calls and attribute reads (`Queue.all`, `Job.fetch`)
    go to the current app's namespaced class of that name."""

    def __init__(self, name: str) -> None:
        self.name = name

    def target(self) -> type:
        rq = _namespace()
        return rq.registries.get(self.name) or getattr(rq, self.name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.target()(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.target(), attr)


def _requeue_job(job_id: str, connection: Redis, serializer: Any = None) -> Job:
    return _namespace().Job.fetch(job_id, connection=connection, serializer=serializer).requeue()


def _route_dashboard_to_namespaces() -> None:
    import rq_dashboard.web

    for name in DASHBOARD_CLASSES:
        setattr(rq_dashboard.web, name, _CurrentAppClass(name))
    rq_dashboard.web.requeue_job = _requeue_job


def mount(app: Flask) -> None:
    import rq_dashboard
    from rq_dashboard.web import setup_rq_connection

    for key, value in redis_client.dashboard_settings(app.config).items():
        app.config.setdefault(key, value)
    _route_dashboard_to_namespaces()
    app.register_blueprint(rq_dashboard.blueprint, url_prefix="/rq")
    setup_rq_connection(app)
    csrf.exempt(rq_dashboard.blueprint)

    @app.before_request
    def _rq_admins_only() -> Response | None:
        if request.blueprint != "rq_dashboard":
            return None
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.is_admin:
            abort(403, "The queue dashboard is for administrators")
        if two_factor.enrollment_required(current_user, via_sso=login_policy.session_via_sso()):
            abort(403, "Two-factor authentication is required: set it up under Settings → Security")
        changes_state = request.method not in ("GET", "HEAD", "OPTIONS") or request.endpoint in STATE_CHANGING_GETS
        if changes_state and not _same_origin():
            abort(403, "Cross-site request refused")
        return None

    @app.after_request
    def _rq_csp(response: Response) -> Response:
        if request.blueprint == "rq_dashboard":
            response.headers["Content-Security-Policy"] = RQ_CSP
        return response
