"""The Audit page's compliance-report form (SPEC §11): a redirect to the API's streamed report."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import abort, redirect, request
from flask_login import current_user, login_required

from cronmanager.web.blueprint import web
from cronmanager.web.pages import _iso, _local_day


@web.get("/audit/report")
@login_required
def audit_report():
    """Whole days in the viewer's zone become the API's UTC range; the browser then downloads the API's stream,
    so there is one implementation of the report and one audit row per download."""
    if not current_user.is_admin:
        abort(403, "The compliance report is for administrators")
    start, end = _local_day(request.args.get("from", ""), False), _local_day(request.args.get("to", ""), True)
    if start is None or end is None:
        abort(400, "Pick both a first and a last day")
    params = {"from": _iso(start), "to": _iso(end), "format": "csv" if request.args.get("format") == "csv" else "json"}
    kind = request.args.get("kind", "changes")
    params["kind"] = kind if kind in ("changes", "access", "retention") else "changes"
    if request.args.get("user_id") and params["kind"] != "retention":
        params["user_id"] = request.args["user_id"][:36]
    return redirect("/api/v1/audit/report?" + urlencode(params))
