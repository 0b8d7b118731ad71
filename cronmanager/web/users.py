"""The /users page (SPEC §6, §9): admins list accounts and create, promote, deactivate or reactivate them.

Changes go through the users API from the page's script, so the page and the API share one set of rules and one
audit trail.
"""

from __future__ import annotations

import math
from typing import get_args

from flask import abort, render_template, request
from flask_login import current_user, login_required

from cronmanager.models.listing import paginate
from cronmanager.users.schemas import RoleName
from cronmanager.users.service import UserRow, users_stmt
from cronmanager.web.blueprint import page_args, web

ROLES = get_args(RoleName)


@web.get("/users")
@login_required
def users():
    if not current_user.is_admin:
        abort(403, "User administration is for administrators")
    q = (request.args.get("q") or "").strip()[:254] or None
    status = request.args.get("status", "")
    active = {"active": True, "inactive": False}.get(status)
    page, per_page = page_args(50)
    rows, total = paginate(users_stmt(q, None, active), page, per_page)
    return render_template("web/users.html", rows=[UserRow(*r) for r in rows], total=total, page=page,
                           per_page=per_page, pages=max(1, math.ceil(total / per_page)), roles=ROLES,
                           filters={"q": q or "", "status": status})
