"""Configuration from environment variables (SPEC §15), parsed strictly so a typo fails at start-up."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from urllib.parse import quote

from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent
DEFAULT_SECRET = "dev-insecure-secret-change-me"
DEFAULT_TOKEN_SALT = "cronmanager-token"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the variable."""


def env_str(name: str, default: str) -> str:
    """A string setting; `NAME_FILE` may point at a file holding the secret instead."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text().strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use 1/true/yes/on or 0/false/no/off)")


def env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


def env_float(name: str, default: float, minimum: float = 0.0) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not value >= minimum:  # also refuses nan
        raise ConfigError(f"{name}={raw!r} must be at least {minimum}")
    return value


def env_sentinels(name: str) -> list[tuple[str, int]]:
    """`host:port,host:port`: the Redis Sentinel processes to ask for the current master."""
    raw = os.environ.get(name, "").strip()
    sentinels = []
    for item in (i.strip() for i in raw.split(",") if i.strip()):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{name}={raw!r} must be comma-separated host:port pairs such as "
                              "'10.0.0.1:26379,10.0.0.2:26379'")
        sentinels.append((host.strip("[]"), int(port)))
    return sentinels


def env_subset(name: str, default: str, choices: tuple[str, ...]) -> list[str]:
    """Comma-separated names, each one of `choices` (an empty value is an empty list)."""
    raw = os.environ.get(name, default).strip()
    values = [x.strip() for x in raw.split(",") if x.strip()]
    unknown = [v for v in values if v not in choices]
    if unknown:
        raise ConfigError(f"{name}={raw!r}: {', '.join(unknown)} unknown; choose from {', '.join(choices)}")
    return values


def env_int_list(name: str, default: str) -> list[int]:
    raw = os.environ.get(name, default).strip() or default
    try:
        values = [int(x) for x in raw.split(",")]
    except ValueError:
        raise ConfigError(f"{name}={raw!r} must be comma-separated whole numbers such as '60,300,900'") from None
    if not values or min(values) < 0:
        raise ConfigError(f"{name}={raw!r} must not be negative")
    return values


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower() or default
    if value not in choices:
        raise ConfigError(f"{name}={value!r} must be one of {', '.join(choices)}")
    return value


def env_rate(name: str, default: str) -> str:
    from limits import parse_many

    value = os.environ.get(name, default).strip() or default
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a rate limit such as '100/minute'") from None
    return value


def env_fernet_keys(name: str) -> list[str]:
    """Comma-separated Fernet keys; the message names the bad position, never the key."""
    keys = [k.strip() for k in env_str(name, "").split(",") if k.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except ValueError:
            raise ConfigError(f"{name}: key {position} is not a Fernet key (32 url-safe base64 bytes; make one with "
                              "`python -c 'from cryptography.fernet import Fernet; "
                              "print(Fernet.generate_key().decode())'`)") from None
    return keys


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS_RE = re.compile(r"^\s*([A-Za-z]{3})(?:-([A-Za-z]{3}))?\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class BusinessHours:
    """Weekdays (0 = Monday) and a half-open local time range [start, end) in seconds of the day: with the
    default `Mon-Fri 07:00-20:00`, 07:00:00 is inside and 20:00:00 is not; `24:00` ends at midnight."""

    days: frozenset[int]
    start_s: int
    end_s: int

    def contains(self, weekday: int, at: time) -> bool:
        seconds = at.hour * 3600 + at.minute * 60 + at.second + at.microsecond / 1e6
        return weekday in self.days and self.start_s <= seconds < self.end_s


def env_business_hours(name: str, default: str) -> BusinessHours:
    return parse_business_hours(os.environ.get(name, default).strip() or default, name)


def parse_business_hours(raw: str, name: str = "BUSINESS_HOURS") -> BusinessHours:
    """`Mon-Fri 07:00-20:00` style: a day or day range, then a time range within one day."""
    m = _HOURS_RE.match(raw)
    error = ConfigError(f"{name}={raw!r} must look like 'Mon-Fri 07:00-20:00'")
    if not m or m[1].lower() not in _DAYS or (m[2] and m[2].lower() not in _DAYS):
        raise error
    first, last = _DAYS.index(m[1].lower()), _DAYS.index((m[2] or m[1]).lower())
    days = frozenset(range(first, last + 1)) if first <= last else frozenset([*range(first, 7), *range(last + 1)])
    start_s, end_s = int(m[3]) * 3600 + int(m[4]) * 60, int(m[5]) * 3600 + int(m[6]) * 60
    if int(m[4]) > 59 or int(m[6]) > 59 or not 0 <= start_s < end_s <= 86400:
        raise error
    return BusinessHours(days, start_s, end_s)


TEAM_ROLES = ("owner", "editor", "viewer")  # cronmanager.models.TeamRole's values


@dataclass(frozen=True)
class TeamMapping:
    """`group=Team:role` of OIDC_TEAM_MAP: members of the provider's `group` get `role` in team `team`."""

    group: str
    team: str
    role: str


def env_list(name: str) -> list[str]:
    return [item.strip() for item in env_str(name, "").split(",") if item.strip()]


def parse_team_map(raw: str, name: str = "OIDC_TEAM_MAP") -> list[TeamMapping]:
    """`platform=Platform:editor,sre=SRE:owner`; every entry must name a group, a team and a team role."""
    mappings = []
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        group, eq, rest = entry.partition("=")
        team, colon, role = rest.rpartition(":")
        if not eq or not colon or not group.strip() or not team.strip():
            raise ConfigError(f"{name}: {entry!r} must look like 'group=Team:role' (e.g. 'sre=SRE:owner')")
        if role.strip().lower() not in TEAM_ROLES:
            raise ConfigError(f"{name}: {entry!r} has role {role.strip()!r}; use one of {', '.join(TEAM_ROLES)}")
        mappings.append(TeamMapping(group.strip(), team.strip()[:100], role.strip().lower()))
    return mappings


def _check_url(name: str, value: str) -> None:
    if value and not re.match(r"^https?://[^/\s]+", value):
        raise ConfigError(f"{name}={value!r} must be an http:// or https:// URL")


def database_url(raw: str) -> str:
    """Accept plain postgres URLs and pick the psycopg2 driver (SQLAlchemy 2.1 defaults to psycopg 3)."""
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return _hosts_as_query("postgresql+psycopg2://" + raw[len(prefix):])
    if raw.startswith("postgresql+psycopg2://"):
        return _hosts_as_query(raw)
    if raw.startswith("sqlite:///") or raw == "sqlite://":
        return raw
    raise ConfigError("DATABASE_URL must be postgresql://, postgres:// or sqlite:///path")


def _hosts_as_query(url: str) -> str:
    """libpq's host list (`u@h1:5432,h2:5432/db?target_session_attrs=read-write`, how a failover pair is written)
    as SQLAlchemy's repeated `host=` parameters: its URL parser reads one port only."""
    scheme, _, rest = url.partition("://")
    netloc, _, tail = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    if "," not in hosts:
        return url
    path, _, query = tail.partition("?")
    params = "&".join(f"host={quote(h, safe=':[]')}" for h in hosts.split(",") if h)
    return f"{scheme}://{userinfo}{at}/{path}?{params}" + (f"&{query}" if query else "")


class Config:
    """Read once in create_app, never at import time of the package."""

    ENV_NAME = "development"
    TESTING = False
    DEBUG = False

    def __init__(self) -> None:
        instance = BASE_DIR / "instance"
        self.SECRET_KEY = env_str("SECRET_KEY", DEFAULT_SECRET)
        self.TOKEN_SALT = env_str("TOKEN_SALT", DEFAULT_TOKEN_SALT)
        self.ENCRYPTION_KEYS = env_fernet_keys("ENCRYPTION_KEY")  # empty: one key derived from SECRET_KEY
        self.SQLALCHEMY_DATABASE_URI = database_url(
            env_str("DATABASE_URL", f"sqlite:///{instance / 'cronmanager.sqlite'}")
        )
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        self.REDIS_URL = env_str("REDIS_URL", "redis://localhost:6379/0")
        self.REDIS_PREFIX = env_str("REDIS_PREFIX", "cm")
        self.REDIS_SENTINELS = env_sentinels("REDIS_SENTINELS")
        self.REDIS_SENTINEL_MASTER = env_str("REDIS_SENTINEL_MASTER", "").strip()
        self.REDIS_SENTINEL_PASSWORD = env_str("REDIS_SENTINEL_PASSWORD", "") or None
        if self.REDIS_SENTINELS and not self.REDIS_SENTINEL_MASTER:
            raise ConfigError("REDIS_SENTINEL_MASTER must name the monitored service when REDIS_SENTINELS is set")
        self.PORT = env_int("PORT", 5000, minimum=1)
        self.ALLOW_PRIVATE_TARGETS = env_bool("ALLOW_PRIVATE_TARGETS", False)
        self.REGISTRATION_OPEN = env_bool("REGISTRATION_OPEN", False)
        self.RATELIMIT_ENABLED = env_bool("RATE_LIMIT_ENABLED", True)
        self.API_RATE_LIMIT = env_rate("API_RATE_LIMIT", "100/minute")
        self.AUTH_RATE_LIMIT = env_rate("AUTH_RATE_LIMIT", "20/minute")
        self.LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5, minimum=1)
        self.LOGIN_LOCKOUT_S = env_int("LOGIN_LOCKOUT_S", 900, minimum=1)
        self.LOG_LEVEL = env_choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error", "critical"))
        self.CORS_ORIGINS = [o.strip() for o in env_str("CORS_ORIGINS", "").split(",") if o.strip()]
        self.PROXY_COUNT = env_int("PROXY_COUNT", 0)
        self.SMTP_URL = env_str("SMTP_URL", "")
        self.SMTP_FROM = env_str("SMTP_FROM", "cronmanager@localhost")
        self.ALERT_WEBHOOK_SECRET = env_str("ALERT_WEBHOOK_SECRET", "")
        self.ALERT_WEBHOOK_FORMAT = env_choice("ALERT_WEBHOOK_FORMAT", "json", ("json", "slack"))
        self.ALERT_RETRY_BACKOFF_S = env_int_list("ALERT_RETRY_BACKOFF_S", "10,60,300")
        self.ALERT_CHANNEL_PAUSE_AFTER = env_int("ALERT_CHANNEL_PAUSE_AFTER", 5, minimum=1)
        self.ALERT_REMINDER_S = env_int("ALERT_REMINDER_S", 86400, minimum=1)
        self.ALERT_CLAIM_S = env_int("ALERT_CLAIM_S", 120, minimum=1)  # a sender's hold on a delivery
        self.ALERT_SWEEP_S = env_int("ALERT_SWEEP_S", 60, minimum=1)  # how often stranded deliveries are picked up
        self.ALERT_ON = env_subset("ALERT_ON", "exhausted", ("exhausted", "consecutive", "failure_rate", "slow",
                                                             "late", "slo"))
        self.ALERT_ON_EXHAUSTED = env_choice("ALERT_ON_EXHAUSTED", "alert", ("alert", "disable"))
        self.PAGERDUTY_EVENTS_URL = env_str("PAGERDUTY_EVENTS_URL", "https://events.pagerduty.com/v2/enqueue")
        self.METRICS_TOKEN = env_str("METRICS_TOKEN", "")
        self.METRICS_PER_JOB = env_bool("METRICS_PER_JOB", False)  # per-job series: one per job and status
        self.HEALTH_SCHEDULER_STALE_S = env_int("HEALTH_SCHEDULER_STALE_S", 30, minimum=1)
        self.HEALTH_CORE_ONLY = env_bool("HEALTH_CORE_ONLY", False)
        self.PUBLIC_URL = env_str("PUBLIC_URL", "")
        # single sign-on and second factor (SPEC §18)
        self.OIDC_ISSUER = env_str("OIDC_ISSUER", "").strip().rstrip("/")
        self.OIDC_CLIENT_ID = env_str("OIDC_CLIENT_ID", "").strip()
        self.OIDC_CLIENT_SECRET = env_str("OIDC_CLIENT_SECRET", "").strip()
        self.OIDC_SCOPES = env_str("OIDC_SCOPES", "").strip() or "openid email profile"
        self.OIDC_ALLOWED_DOMAINS = [d.lower().lstrip("@") for d in env_list("OIDC_ALLOWED_DOMAINS")]
        self.OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "").strip() or "groups"
        self.OIDC_ADMIN_GROUPS = env_list("OIDC_ADMIN_GROUPS")
        self.OIDC_TEAM_MAP = parse_team_map(env_str("OIDC_TEAM_MAP", ""))
        self.PASSWORD_LOGIN = env_choice("PASSWORD_LOGIN", "on", ("on", "admins", "off"))
        self.REQUIRE_2FA = env_choice("REQUIRE_2FA", "off", ("off", "admins", "all"))
        self.TOTP_ISSUER = env_str("TOTP_ISSUER", "Cron Manager").strip() or "Cron Manager"
        self._check_sso()
        self.SSE_HEARTBEAT_S = env_float("SSE_HEARTBEAT_S", 15.0, minimum=0.1)
        self.SSE_MAX_STREAMS = env_int("SSE_MAX_STREAMS", 500, minimum=1)
        self.SSE_MAX_STREAM_S = env_float("SSE_MAX_STREAM_S", 3600.0, minimum=1.0)
        self.REDIS_MAX_CONNECTIONS = env_int("REDIS_MAX_CONNECTIONS", 200, minimum=10)
        self.ALERT_WEBHOOK_URL = env_str("ALERT_WEBHOOK_URL", "")
        self.EXECUTION_RETENTION_DAYS = env_int("EXECUTION_RETENTION_DAYS", 30, minimum=1)
        self.ARCHIVE_RETENTION_DAYS = env_int("ARCHIVE_RETENTION_DAYS", 90, minimum=1)
        self.AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 365, minimum=1)
        self.INCIDENT_RETENTION_DAYS = env_int("INCIDENT_RETENTION_DAYS", 90, minimum=1)  # resolved incidents
        self.ARCHIVE_DIR = env_str("ARCHIVE_DIR", str(instance / "archive"))
        self.AUTO_RESCHEDULE = env_choice("AUTO_RESCHEDULE", "off", ("on", "off", "dry-run"))
        self.RULES_INTERVAL_S = env_int("RULES_INTERVAL_S", 60, minimum=1)
        self.MAX_CONCURRENT_EXECUTIONS = env_int("MAX_CONCURRENT_EXECUTIONS", 200, minimum=1)
        # forensic run record (request as sent, phase timings, remote address); off only to measure its cost
        self.EXECUTION_FORENSICS = env_bool("EXECUTION_FORENSICS", True)
        self.RETRY_BACKOFF_S = env_int_list("RETRY_BACKOFF_S", "60,300,900")
        self.RETRY_JITTER = env_float("RETRY_JITTER", 0.1)
        self.SCHEDULER_TICK_S = env_float("SCHEDULER_TICK_S", 0.2, minimum=0.01)
        self.SCHEDULER_LOOKAHEAD_S = env_float("SCHEDULER_LOOKAHEAD_S", 3.0)
        self.RECONCILE_INTERVAL_S = env_float("RECONCILE_INTERVAL_S", 10.0)
        self.WORKER_HEARTBEAT_TTL_S = env_int("WORKER_HEARTBEAT_TTL_S", 15, minimum=2)
        # `flask worker` runs this many worker processes (one per core by default); 1 runs in the process itself
        self.WORKER_PROCESSES = env_int("WORKER_PROCESSES", os.cpu_count() or 1, minimum=1)
        self.ACCESS_TOKEN_TTL_S = env_int("ACCESS_TOKEN_TTL_S", 900, minimum=1)
        self.REFRESH_TOKEN_TTL_S = env_int("REFRESH_TOKEN_TTL_S", 7 * 86400, minimum=1)
        # audit analysis (SPEC §11): detector thresholds and windows
        self.BUSINESS_HOURS = env_business_hours("BUSINESS_HOURS", "Mon-Fri 07:00-20:00")
        self.DETECT_FAILED_AUTH_MAX = env_int("DETECT_FAILED_AUTH_MAX", 10, minimum=1)
        self.DETECT_FAILED_AUTH_ACCOUNTS = env_int("DETECT_FAILED_AUTH_ACCOUNTS", 5, minimum=1)
        self.DETECT_FAILED_AUTH_WINDOW_S = env_int("DETECT_FAILED_AUTH_WINDOW_S", 300, minimum=1)
        self.DETECT_NEW_IP_DAYS = env_int("DETECT_NEW_IP_DAYS", 30, minimum=1)
        self.DETECT_BULK_DELETE_MAX = env_int("DETECT_BULK_DELETE_MAX", 10, minimum=1)
        self.DETECT_BULK_DELETE_WINDOW_S = env_int("DETECT_BULK_DELETE_WINDOW_S", 300, minimum=1)
        self.DETECT_OFF_HOURS_WINDOW_S = env_int("DETECT_OFF_HOURS_WINDOW_S", 3600, minimum=1)
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.WTF_CSRF_TIME_LIMIT = None
        self.JSON_SORT_KEYS = False
        # observability: tracing itself is configured by the standard OTEL_* variables
        self.LOG_FORMAT = env_choice("LOG_FORMAT", "json", ("json", "text"))
        self.TRACE_URL_TEMPLATE = env_str("TRACE_URL_TEMPLATE", "")
        # a worker's span batches wait for its fires to finish, this long at most; the SDK's queue holds them
        self.TRACE_EXPORT_DEFER_MAX_S = env_float("TRACE_EXPORT_DEFER_MAX_S", 10.0)
        self.OTEL_BSP_MAX_QUEUE_SIZE = env_int("OTEL_BSP_MAX_QUEUE_SIZE", 16384, minimum=1)
        if self.TRACE_URL_TEMPLATE and "{trace_id}" not in self.TRACE_URL_TEMPLATE:
            raise ConfigError("TRACE_URL_TEMPLATE must contain {trace_id}")
        # abuse limits (SPEC §6)
        self.MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 1024 * 1024, minimum=1024)
        self.JOB_BODY_MAX_BYTES = env_int("JOB_BODY_MAX_BYTES", 64 * 1024, minimum=1)
        self.AUDIT_PAYLOAD_MAX_BYTES = env_int("AUDIT_PAYLOAD_MAX_BYTES", 8 * 1024, minimum=256)
        # a refused flood (429) is one counted audit row per address and window, not a row per request
        self.AUDIT_REFUSED_WINDOW_S = env_int("AUDIT_REFUSED_WINDOW_S", 60, minimum=1)
        self.JSON_MAX_DEPTH = env_int("JSON_MAX_DEPTH", 32, minimum=4)
        self.JOB_MAX_HEADERS = env_int("JOB_MAX_HEADERS", 50, minimum=1)
        self.JOB_MAX_QUERY_PARAMS = env_int("JOB_MAX_QUERY_PARAMS", 50, minimum=1)
        self.JOB_MAX_VALUE_BYTES = env_int("JOB_MAX_VALUE_BYTES", 8 * 1024, minimum=64)  # one header or parameter
        self.JOB_MAX_FIELD_BYTES = env_int("JOB_MAX_FIELD_BYTES", 64 * 1024, minimum=256)  # all headers, all params
        # per owner: a user's personal ones, or a team's (SPEC §6, §18); the older *_PER_USER names still work
        self.MAX_JOBS_PER_OWNER = env_int("MAX_JOBS_PER_OWNER", env_int("MAX_JOBS_PER_USER", 10000, minimum=1),
                                          minimum=1)
        self.MAX_TOKENS_PER_OWNER = env_int("MAX_TOKENS_PER_OWNER", env_int("MAX_TOKENS_PER_USER", 100, minimum=1),
                                            minimum=1)
        self.MAX_CHANNELS_PER_OWNER = env_int("MAX_CHANNELS_PER_OWNER",
                                              env_int("MAX_CHANNELS_PER_USER", 20, minimum=1), minimum=1)
        self.SSE_MAX_STREAMS_PER_USER = env_int("SSE_MAX_STREAMS_PER_USER", 10, minimum=1)

    def _check_sso(self) -> None:
        _check_url("OIDC_ISSUER", self.OIDC_ISSUER)
        _check_url("PUBLIC_URL", self.PUBLIC_URL)
        if self.OIDC_ISSUER:
            for name in ("OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"):
                if not getattr(self, name):
                    raise ConfigError(f"{name} must be set when OIDC_ISSUER is set")
            if "openid" not in self.OIDC_SCOPES.split():
                raise ConfigError(f"OIDC_SCOPES={self.OIDC_SCOPES!r} must include 'openid'")
        else:
            for name in ("OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"):
                if getattr(self, name):
                    raise ConfigError(f"{name} is set but OIDC_ISSUER is not")
            if self.PASSWORD_LOGIN != "on":
                raise ConfigError(f"PASSWORD_LOGIN={self.PASSWORD_LOGIN} needs single sign-on: set OIDC_ISSUER, "
                                  "OIDC_CLIENT_ID and OIDC_CLIENT_SECRET")


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    DEBUG = False


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True

    def __init__(self) -> None:
        super().__init__()
        self.WTF_CSRF_ENABLED = env_bool("WTF_CSRF_ENABLED", True)


class ProductionConfig(Config):
    ENV_NAME = "production"

    def __init__(self) -> None:
        super().__init__()
        if self.SECRET_KEY == DEFAULT_SECRET or len(self.SECRET_KEY) < 16:
            raise ConfigError("SECRET_KEY must be set to a long random value in production")
        if self.TOKEN_SALT == DEFAULT_TOKEN_SALT or len(self.TOKEN_SALT) < 16:
            raise ConfigError("TOKEN_SALT must be set to a long random value in production")
        self.SESSION_COOKIE_SECURE = True
        self.REMEMBER_COOKIE_SECURE = True


CONFIGS = {"development": DevelopmentConfig, "testing": TestingConfig, "production": ProductionConfig}


def load_config() -> Config:
    """Pick the class from CRONMANAGER_ENV, after loading `.env` if present."""
    from dotenv import load_dotenv

    load_dotenv(BASE_DIR / ".env", override=False)
    name = env_choice("CRONMANAGER_ENV", "development", tuple(CONFIGS))
    return CONFIGS[name]()
