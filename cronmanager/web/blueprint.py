"""The dashboard blueprint, its template helpers and the small glue shared by the page modules."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, request
from flask_login import current_user
from sqlalchemy import func, select

from cronmanager.auth.principal import Principal
from cronmanager.errors import ApiError
from cronmanager.extensions import db

web = Blueprint("web", __name__)

NAV = (  # (endpoint, label, icon, admin only)
    ("web.overview", "Overview", "home", False),
    ("web.jobs", "Jobs", "clock", False),
    ("web.calendars", "Calendars", "calendar", False),
    ("web.logs", "Logs", "list", False),
    ("web.teams", "Teams", "team", False),
    ("web.audit", "Audit", "shield", True),
    ("web.users", "Users", "users", True),
    ("web.tokens", "API tokens", "key", False),
    ("web.incidents", "Incidents", "bell", False),
    ("web.notifications", "Notifications", "bell", False),
    ("web.settings", "Settings", "cog", False),
)


def viewer() -> Principal:
    """The signed-in user as the API's Principal, so pages and API share one set of rules."""
    user = current_user._get_current_object()
    return Principal(user=user, scopes=user.allowed_scopes(), via="session")


def viewer_zone() -> ZoneInfo:
    try:
        return ZoneInfo(getattr(current_user, "timezone", None) or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def or_abort(error: ApiError) -> None:
    """Pages answer HTML: an ApiError from a shared service becomes the same status here."""
    abort(error.status, error.message)


def page_args(default_per_page: int = 50) -> tuple[int, int]:
    page = request.args.get("page", 1, type=int) or 1
    per_page = request.args.get("per_page", default_per_page, type=int) or default_per_page
    return max(1, min(page, 100000)), max(1, min(per_page, 200))


@web.app_template_filter("localtime")
def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """UTC datetime -> the viewer's zone, for display."""
    if value is None:
        return "—"
    return value.astimezone(viewer_zone()).strftime(fmt)


@web.app_template_filter("duration")
def duration(ms: int | float | None) -> str:
    if ms is None:
        return "—"
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


@web.app_context_processor
def _layout_context() -> dict:
    if not current_user.is_authenticated:
        return {}
    from cronmanager.models import Notification

    def unread() -> int:
        return db.session.execute(select(func.count()).select_from(Notification).where(
            Notification.user_id == current_user.id, Notification.read_at.is_(None))).scalar_one()

    items = [n for n in NAV if not n[3] or current_user.is_admin]
    return {"nav_items": items, "nav_unread": unread, "viewer_tz": current_user.timezone or "UTC",
            "can_write": current_user.can_write}
