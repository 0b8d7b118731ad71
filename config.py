"""Configuration from environment variables (SPEC §15), parsed strictly so a typo fails at start-up."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import time
from pathlib import Path

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


def database_url(raw: str) -> str:
    """Accept plain postgres URLs and pick the psycopg2 driver (SQLAlchemy 2.1 defaults to psycopg 3)."""
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg2://" + raw[len(prefix):]
    if raw.startswith(("postgresql+psycopg2://", "sqlite:///")) or raw == "sqlite://":
        return raw
    raise ConfigError("DATABASE_URL must be postgresql://, postgres:// or sqlite:///path")


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
        self.METRICS_TOKEN = env_str("METRICS_TOKEN", "")
        self.HEALTH_SCHEDULER_STALE_S = env_int("HEALTH_SCHEDULER_STALE_S", 30, minimum=1)
        self.HEALTH_CORE_ONLY = env_bool("HEALTH_CORE_ONLY", False)
        self.PUBLIC_URL = env_str("PUBLIC_URL", "")
        self.SSE_HEARTBEAT_S = env_float("SSE_HEARTBEAT_S", 15.0, minimum=0.1)
        self.SSE_MAX_STREAMS = env_int("SSE_MAX_STREAMS", 500, minimum=1)
        self.SSE_MAX_STREAM_S = env_float("SSE_MAX_STREAM_S", 3600.0, minimum=1.0)
        self.REDIS_MAX_CONNECTIONS = env_int("REDIS_MAX_CONNECTIONS", 200, minimum=10)
        self.ALERT_WEBHOOK_URL = env_str("ALERT_WEBHOOK_URL", "")
        self.EXECUTION_RETENTION_DAYS = env_int("EXECUTION_RETENTION_DAYS", 30, minimum=1)
        self.ARCHIVE_RETENTION_DAYS = env_int("ARCHIVE_RETENTION_DAYS", 90, minimum=1)
        self.AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 365, minimum=1)
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
