"""Every Redis key family the product owns, and the queries over them, in one place (like rq's keys.py).

Nobody else spells a key: a process, a page or a test asks `RedisKeys(prefix)` for it, so a rename or a new
family is one edit and `REDIS_PREFIX` covers everything (RQ's own families: cronmanager.rq_namespace).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from enum import StrEnum

from redis import Redis

from cronmanager.lib import process_stats


class ProcessKind(StrEnum):
    WORKER = "worker"
    SCHEDULER = "scheduler"
    WEB = "web"  # publishes process figures only; its liveness is the load balancer's /health


@dataclass(frozen=True)
class RedisKeys:
    prefix: str

    def _key(self, *parts: object) -> str:
        return ":".join([self.prefix, *map(str, parts)])

    # processes: liveness and the scheduler's leadership
    def alive(self, kind: ProcessKind, identity: str) -> str:
        return self._key(kind.value, "alive", identity)

    def alive_pattern(self, kind: ProcessKind, host: str | None = None) -> str:
        """Processes name themselves host:pid:random, so one host's are `host:*`."""
        return self._key(kind.value, "alive", f"{host}:*" if host else "*")

    def process_stats(self, kind: ProcessKind, identity: str) -> str:
        """A process's CPU, memory and descriptors (JSON), refreshed with its heartbeat, expiring with it."""
        return self._key(kind.value, "stats", identity)

    def process_stats_pattern(self, kind: ProcessKind) -> str:
        return self._key(kind.value, "stats", "*")

    @property
    def scheduler_leader(self) -> str:
        return self._key("scheduler", "leader")

    @property
    def scheduler_heartbeat(self) -> str:
        return self._key("scheduler", "heartbeat")

    @property
    def scheduler_fence(self) -> str:
        """The counter each new leader takes its fencing token from (cronmanager.scheduling.fencing)."""
        return self._key("scheduler", "fence")

    # single-run locks of system jobs
    def lock(self, name: str) -> str:
        return self._key(*name.split(":"))

    @property
    def alert_missed_watermark(self) -> str:
        """The last execution id the missed-slot alert check has looked at (cronmanager.alerts.late)."""
        return self._key("alerts", "missed-watermark")

    # live events
    @property
    def events_stream(self) -> str:
        return self._key("events", "stream")

    @property
    def events_channel(self) -> str:
        return self._key("events")

    @property
    def job_changes_channel(self) -> str:
        """The `cron:*` events again, for the workers, which follow job changes but not every fire's events."""
        return self._key("events", "jobs")

    @property
    def cancel_channel(self) -> str:
        """Execution ids (a JSON list) whose running requests must be closed, wherever they run."""
        return self._key("executions", "cancel")

    def sse_slots(self, user_id: str) -> str:
        return self._key("sse", "user", user_id)

    # counters and throttles
    def metrics(self, name: str) -> str:
        return self._key("metrics", name)

    def login_failures(self, email: str) -> str:
        return self._key("login-failures", email.lower())

    def security_alert(self, kind: str, subject: str | None) -> str:
        return self._key("security-alert", kind, subject or "-")

    def token_usage(self, token_id: str, day: str) -> str:
        """A hash per token and UTC day: `*` counts the requests, `<METHOD> <route>` each route's."""
        return self._key("usage", "token", token_id, day)

    def refused_audit(self, action: str, ip: str, user_id: str | None, window: int) -> str:
        return self._key("audit", "refused", action, ip, user_id or "-", window)

    def invalid_credentials(self, ip: str) -> tuple[str, ...]:
        """The rate limiter's bucket for invalid credentials from an address (its own storage adds the rest)."""
        return self.prefix, "invalid-credential", ip


def live_heartbeats(r: Redis, keys: RedisKeys, kind: ProcessKind, host: str | None = None) -> dict[str, float]:
    """Live processes of a kind (optionally on one host): their identity -> seconds since their last beat."""
    head = len(keys.alive(kind, ""))
    ages = {}
    for key in r.scan_iter(match=keys.alive_pattern(kind, host), count=1000):
        value = r.get(key)
        if value is not None:
            ages[key.decode()[head:]] = time.time() - float(value)
    return ages


def beat(r: Redis, keys: RedisKeys, kind: ProcessKind, identity: str, ttl_s: float) -> None:
    """A process's heartbeat and its figures for /metrics, in one round trip."""
    pipe = r.pipeline(transaction=False)
    pipe.set(keys.alive(kind, identity), str(time.time()), ex=max(1, int(ttl_s)))
    pipe.set(keys.process_stats(kind, identity), json.dumps(process_stats.snapshot()), ex=max(1, int(ttl_s)))
    pipe.execute()


def publish_process_stats(r: Redis, keys: RedisKeys, kind: ProcessKind, identity: str, ttl_s: float) -> None:
    r.set(keys.process_stats(kind, identity), json.dumps(process_stats.snapshot()), ex=max(1, int(ttl_s)))


def all_process_stats(r: Redis, keys: RedisKeys) -> dict[tuple[ProcessKind, str], dict[str, float]]:
    """Every live process's published figures, by (kind, identity)."""
    found: dict[tuple[ProcessKind, str], dict[str, float]] = {}
    for kind in ProcessKind:
        head = len(keys.process_stats(kind, ""))
        names = [k.decode() for k in r.scan_iter(match=keys.process_stats_pattern(kind), count=1000)]
        for name, value in zip(names, r.mget(names) if names else [], strict=True):
            if value is not None:
                found[kind, name[head:]] = json.loads(value)
    return found


def live_workers(r: Redis, keys: RedisKeys) -> set[str]:
    """Identities of the workers whose heartbeat has not expired."""
    head = len(keys.alive(ProcessKind.WORKER, ""))
    return {k.decode()[head:] for k in r.scan_iter(match=keys.alive_pattern(ProcessKind.WORKER), count=1000)}


def count_workers(r: Redis, keys: RedisKeys) -> int:
    return len(live_workers(r, keys))
