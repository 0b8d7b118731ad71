"""Configuration from environment variables (SPEC §15), parsed strictly so a typo fails at start-up."""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
DEFAULT_SECRET = "dev-insecure-secret-change-me"

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
        self.TOKEN_SALT = env_str("TOKEN_SALT", "cronmanager-token")
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
        self.SSE_MAX_STREAMS = env_int("SSE_MAX_STREAMS", 1000, minimum=1)
        self.SSE_MAX_STREAM_S = env_float("SSE_MAX_STREAM_S", 3600.0, minimum=1.0)
        self.REDIS_MAX_CONNECTIONS = env_int("REDIS_MAX_CONNECTIONS", 200, minimum=10)
        self.ALERT_WEBHOOK_URL = env_str("ALERT_WEBHOOK_URL", "")
        self.EXECUTION_RETENTION_DAYS = env_int("EXECUTION_RETENTION_DAYS", 30, minimum=1)
        self.ARCHIVE_RETENTION_DAYS = env_int("ARCHIVE_RETENTION_DAYS", 90, minimum=1)
        self.AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 365, minimum=1)
        self.ARCHIVE_DIR = env_str("ARCHIVE_DIR", str(instance / "archive"))
        self.AUTO_RESCHEDULE = env_choice("AUTO_RESCHEDULE", "off", ("on", "off", "dry-run"))
        self.MAX_CONCURRENT_EXECUTIONS = env_int("MAX_CONCURRENT_EXECUTIONS", 200, minimum=1)
        # forensic run record (request as sent, phase timings, remote address); off only to measure its cost
        self.EXECUTION_FORENSICS = env_bool("EXECUTION_FORENSICS", True)
        self.RETRY_BACKOFF_S = env_int_list("RETRY_BACKOFF_S", "60,300,900")
        self.RETRY_JITTER = env_float("RETRY_JITTER", 0.1)
        self.SCHEDULER_TICK_S = env_float("SCHEDULER_TICK_S", 0.2, minimum=0.01)
        self.SCHEDULER_LOOKAHEAD_S = env_float("SCHEDULER_LOOKAHEAD_S", 3.0)
        self.RECONCILE_INTERVAL_S = env_float("RECONCILE_INTERVAL_S", 10.0)
        self.WORKER_HEARTBEAT_TTL_S = env_int("WORKER_HEARTBEAT_TTL_S", 15, minimum=2)
        self.ACCESS_TOKEN_TTL_S = env_int("ACCESS_TOKEN_TTL_S", 900, minimum=1)
        self.REFRESH_TOKEN_TTL_S = env_int("REFRESH_TOKEN_TTL_S", 7 * 86400, minimum=1)
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.WTF_CSRF_TIME_LIMIT = None
        self.JSON_SORT_KEYS = False


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
        self.SESSION_COOKIE_SECURE = True
        self.REMEMBER_COOKIE_SECURE = True


CONFIGS = {"development": DevelopmentConfig, "testing": TestingConfig, "production": ProductionConfig}


def load_config() -> Config:
    """Pick the class from CRONMANAGER_ENV, after loading `.env` if present."""
    from dotenv import load_dotenv

    load_dotenv(BASE_DIR / ".env", override=False)
    name = env_choice("CRONMANAGER_ENV", "development", tuple(CONFIGS))
    return CONFIGS[name]()
