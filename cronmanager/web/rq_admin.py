"""rq-dashboard mounted at /rq for admins only.

The guard is an app-level before_request: a guard on rq-dashboard's own blueprint runs after its connection
hook, too late to answer 401/403 cleanly. rq-dashboard's pages use an inline script and underscore templates
(`new Function`), so its responses get a CSP that allows them; its POST actions carry no CSRF token, so they
are exempt from Flask-WTF and instead must come from our own origin (Origin/Referer check), as must the one
route that requeues on a GET.
"""

from __future__ import annotations

from urllib.parse import urlparse

from flask import Flask, Response, abort, request
from flask_login import current_user

from cronmanager.extensions import csrf, login_manager

RQ_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
          "script-src 'self' 'unsafe-inline' 'unsafe-eval'; connect-src 'self'; object-src 'none'; "
          "base-uri 'self'; frame-ancestors 'none'; form-action 'self'")


# rq-dashboard routes that change state on a plain GET too (a link or <img> on another site could fire them)
STATE_CHANGING_GETS = frozenset({"rq_dashboard.requeue_all"})


def _same_origin() -> bool:
    source = request.headers.get("Origin") or request.headers.get("Referer")
    return bool(source) and urlparse(source).netloc == request.host


def mount(app: Flask) -> None:
    import rq_dashboard
    from rq_dashboard.web import setup_rq_connection

    app.config.setdefault("RQ_DASHBOARD_REDIS_URL", app.config["REDIS_URL"])
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
        changes_state = request.method not in ("GET", "HEAD", "OPTIONS") or request.endpoint in STATE_CHANGING_GETS
        if changes_state and not _same_origin():
            abort(403, "Cross-site request refused")
        return None

    @app.after_request
    def _rq_csp(response: Response) -> Response:
        if request.blueprint == "rq_dashboard":
            response.headers["Content-Security-Policy"] = RQ_CSP
        return response
