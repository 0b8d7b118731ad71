"""API token usage (SPEC §20): requests per UTC day for 30 days and the routes called, kept as Redis hash
counters that expire on their own, so counting costs one pipelined round trip per request and no table grows.
The last IP is the token row's `last_used_ip`, written at authentication."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from redis import Redis

from cronmanager.lib.redis_keys import RedisKeys

DAYS = 30
TOP_ROUTES = 10
TOTAL = "*"
_TTL_S = (DAYS + 1) * 86400
log = logging.getLogger("cronmanager.token_usage")


@dataclass(frozen=True)
class DayCount:
    day: date
    requests: int


@dataclass(frozen=True)
class RouteCount:
    route: str  # "GET /api/v1/cron/<uuid:job_id>"
    requests: int


@dataclass(frozen=True)
class Usage:
    days: list[DayCount]  # oldest first, DAYS of them, today last
    top_routes: list[RouteCount]

    @property
    def total(self) -> int:
        return sum(d.requests for d in self.days)


def count(r: Redis, keys: RedisKeys, token_id: str, route: str, now: datetime) -> None:
    """One request; a Redis failure loses the count, never the request."""
    key = keys.token_usage(token_id, now.date().isoformat())
    try:
        pipe = r.pipeline(transaction=False)
        pipe.hincrby(key, TOTAL, 1)
        pipe.hincrby(key, route, 1)
        pipe.expire(key, _TTL_S)
        pipe.execute()
    except Exception:
        log.warning("token usage not counted (Redis unavailable)", exc_info=True)


def usage(r: Redis, keys: RedisKeys, token_id: str, now: datetime) -> Usage:
    days = [now.date() - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    pipe = r.pipeline(transaction=False)
    for day in days:
        pipe.hgetall(keys.token_usage(token_id, day.isoformat()))
    per_day: list[dict[bytes, bytes]] = pipe.execute()
    routes: dict[str, int] = {}
    for counts in per_day:
        for field, n in counts.items():
            name = field.decode()
            if name != TOTAL:
                routes[name] = routes.get(name, 0) + int(n)
    top = sorted(routes.items(), key=lambda item: (-item[1], item[0]))[:TOP_ROUTES]
    return Usage([DayCount(day, int(c.get(TOTAL.encode(), 0))) for day, c in zip(days, per_day, strict=True)],
                 [RouteCount(route, n) for route, n in top])
