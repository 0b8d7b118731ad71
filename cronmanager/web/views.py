"""Dashboard pages (server-rendered)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy import func, select

from cronmanager.extensions import db
from cronmanager.models import CronJob

web = Blueprint("web", __name__)


@web.get("/")
@login_required
def overview():  # noqa: ANN201
    stmt = select(CronJob.is_active, func.count()).group_by(CronJob.is_active)
    if current_user.role == "USER":
        stmt = stmt.where(CronJob.owner_id == current_user.id)
    counts = dict(db.session.execute(stmt).all())
    return render_template("web/overview.html", active=counts.get(True, 0), inactive=counts.get(False, 0))
