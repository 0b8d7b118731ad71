"""Jobs → Import page: upload a document, read its plan as a diff, apply it (the browser calls the import API)."""

from __future__ import annotations

from flask import abort, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from cronmanager.extensions import db
from cronmanager.models import User
from cronmanager.web.blueprint import web


@web.get("/jobs/import")
@login_required
def jobs_import():
    if not current_user.can_write:
        abort(403, "Read-only accounts cannot change jobs")
    owners = db.session.execute(select(User.id, User.email).where(User.is_active.is_(True))
                                .order_by(User.email)).all() if current_user.is_admin else []
    return render_template("web/jobs_import.html", owners=owners)
