"""Token usage on the tokens pages (personal and a team's): 30 days of requests as bars, and the top route."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from cronmanager.auth import token_usage
from cronmanager.extensions import keys, redis_client
from cronmanager.models import utcnow
from cronmanager.web.blueprint import web
from cronmanager.web.svg import bars


@dataclass(frozen=True)
class UsageView:
    total: int
    chart: Markup
    top_route: str | None


@web.app_template_global("token_usage_of")
def token_usage_of(token_id: str) -> UsageView | None:
    """None when Redis cannot be reached: the page still renders. (The page lists only tokens its viewer may
    see, so this takes the id as given.)"""
    try:
        u = token_usage.usage(redis_client(), keys(), token_id, utcnow())
    except Exception:
        return None
    chart = bars("requests per day, 30 days", [d.requests for d in u.days], [d.day.isoformat() for d in u.days])
    return UsageView(u.total, chart, u.top_routes[0].route if u.top_routes else None)
