"""Every Redis connection of every process: straight to REDIS_URL, or to the master Redis Sentinel names.

With REDIS_SENTINELS set, each connection asks the sentinels for the current master when it (re)connects, so a
failover is followed by every user (RQ, rq-scheduler, pub/sub, the rate limiter, leases, counters) without a
restart. REDIS_URL still gives the database number and the data nodes' credentials; its host is not used then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis import BlockingConnectionPool, Redis
from redis.connection import parse_url
from redis.sentinel import Sentinel, SentinelConnectionPool

SENTINEL_SOCKET_TIMEOUT_S = 1.0  # a sentinel that does not answer is skipped for the next one


@dataclass(frozen=True)
class RedisSettings:
    url: str
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str = ""
    sentinel_password: str | None = None

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> RedisSettings:
        return cls(config["REDIS_URL"], tuple(config.get("REDIS_SENTINELS") or ()),
                   config.get("REDIS_SENTINEL_MASTER") or "", config.get("REDIS_SENTINEL_PASSWORD") or None)

    def node_credentials(self) -> dict[str, Any]:
        """Database number and credentials of the data nodes, from REDIS_URL."""
        return {k: v for k, v in parse_url(self.url).items() if k in ("db", "username", "password")}


class BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """The master's connections, waiting for a free one like BlockingConnectionPool: under gevent many greenlets
    share a pool, and a plain pool fails at once when it is full."""


def connect(config: Mapping[str, Any], *, max_connections: int | None = None, timeout: float = 10,
            **options: Any) -> Redis:
    """A client of the current master; with `max_connections`, over a blocking pool of that size."""
    settings = RedisSettings.of(config)
    if not settings.sentinels:
        if max_connections is None:
            return Redis.from_url(settings.url, **options)
        return Redis(connection_pool=BlockingConnectionPool.from_url(
            settings.url, max_connections=max_connections, timeout=timeout, **options))
    sentinel = Sentinel(list(settings.sentinels), sentinel_kwargs=_sentinel_kwargs(settings),
                        **settings.node_credentials(), **options)
    if max_connections is None:
        return sentinel.master_for(settings.master)
    return sentinel.master_for(settings.master, connection_pool_class=BlockingSentinelPool,
                               max_connections=max_connections, timeout=timeout)


def limiter_storage(config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Flask-Limiter's storage URI and the options the `limits` library passes on to its client."""
    settings = RedisSettings.of(config)
    if not settings.sentinels:
        return settings.url, {}
    hosts = ",".join(f"{host}:{port}" for host, port in settings.sentinels)
    # replicas lag behind the master: a counter read there could let a client past its limit
    return f"redis+sentinel://{hosts}/{settings.master}", {
        "use_replicas": False, "sentinel_kwargs": _sentinel_kwargs(settings), **settings.node_credentials()}


def dashboard_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """rq-dashboard's own settings for the same Redis (it reads `redis+sentinel://` URLs itself)."""
    settings = RedisSettings.of(config)
    if not settings.sentinels:
        # set so rq-dashboard does not read our REDIS_SENTINELS as its own legacy option (and warn)
        return {"RQ_DASHBOARD_REDIS_URL": settings.url, "RQ_DASHBOARD_REDIS_SENTINELS": None}
    hosts = ",".join(f"{host}:{port}" for host, port in settings.sentinels)
    node = settings.node_credentials()
    return {"RQ_DASHBOARD_REDIS_URL": f"redis+sentinel://{hosts}/{settings.master}/{node.get('db', 0)}",
            "RQ_DASHBOARD_REDIS_SENTINELS": None,
            "RQ_DASHBOARD_REDIS_SENTINEL_PASSWORD": settings.sentinel_password,
            "RQ_DASHBOARD_REDIS_PASSWORD": node.get("password")}


def _sentinel_kwargs(settings: RedisSettings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"socket_timeout": SENTINEL_SOCKET_TIMEOUT_S}
    if settings.sentinel_password:
        kwargs["password"] = settings.sentinel_password
    return kwargs
