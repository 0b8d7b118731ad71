"""config.py: strict parsing of the environment (SPEC §15)."""

from __future__ import annotations

import pytest

import config
from config import ConfigError, database_url, env_bool, env_int, env_rate

ENV_NAMES = ("CRONMANAGER_ENV", "DATABASE_URL", "SECRET_KEY", "REGISTRATION_OPEN", "API_RATE_LIMIT", "PORT",
             "ALLOW_PRIVATE_TARGETS", "AUTO_RESCHEDULE", "LOG_LEVEL", "EXECUTION_RETENTION_DAYS", "CORS_ORIGINS",
             "SECRET_KEY_FILE", "RETRY_JITTER", "RETRY_BACKOFF_S", "SCHEDULER_TICK_S", "SCHEDULER_LOOKAHEAD_S",
             "TOKEN_SALT", "MAX_CONTENT_LENGTH")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(config, "BASE_DIR", tmp_path)  # no stray .env, instance/ under tmp


@pytest.mark.parametrize("raw", ["1", "true", "TRUE", "yes", "on", " On "])
def test_it_reads_true_booleans(monkeypatch, raw):
    monkeypatch.setenv("REGISTRATION_OPEN", raw)
    assert env_bool("REGISTRATION_OPEN", False) is True


@pytest.mark.parametrize("raw", ["0", "false", "False", "no", "off", "OFF"])
def test_it_reads_false_booleans(monkeypatch, raw):
    monkeypatch.setenv("REGISTRATION_OPEN", raw)
    assert env_bool("REGISTRATION_OPEN", True) is False


def test_it_uses_the_default_for_missing_or_empty_booleans(monkeypatch):
    assert env_bool("REGISTRATION_OPEN", True) is True
    monkeypatch.setenv("REGISTRATION_OPEN", "")
    assert env_bool("REGISTRATION_OPEN", False) is False


@pytest.mark.parametrize("raw", ["2", "enabled", "y", "nope", "truee"])
def test_it_refuses_other_boolean_values_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv("ALLOW_PRIVATE_TARGETS", raw)
    with pytest.raises(ConfigError, match="ALLOW_PRIVATE_TARGETS"):
        env_bool("ALLOW_PRIVATE_TARGETS", False)
    with pytest.raises(ConfigError, match="ALLOW_PRIVATE_TARGETS"):
        config.DevelopmentConfig()


def test_it_reads_integers_and_refuses_garbage(monkeypatch):
    monkeypatch.setenv("PORT", "8080")
    assert env_int("PORT", 5000, minimum=1) == 8080
    assert config.DevelopmentConfig().PORT == 8080
    monkeypatch.setenv("PORT", "eighty")
    with pytest.raises(ConfigError, match="PORT"):
        env_int("PORT", 5000)
    monkeypatch.setenv("PORT", "0")
    with pytest.raises(ConfigError, match="PORT"):
        env_int("PORT", 5000, minimum=1)
    monkeypatch.delenv("PORT")
    monkeypatch.setenv("EXECUTION_RETENTION_DAYS", "1.5")
    with pytest.raises(ConfigError, match="EXECUTION_RETENTION_DAYS"):
        config.DevelopmentConfig()


def test_it_has_the_documented_defaults():
    cfg = config.DevelopmentConfig()
    assert cfg.API_RATE_LIMIT == "100/minute"
    assert cfg.REGISTRATION_OPEN is False
    assert cfg.ALLOW_PRIVATE_TARGETS is False
    assert cfg.EXECUTION_RETENTION_DAYS == 30 and cfg.ARCHIVE_RETENTION_DAYS == 90
    assert cfg.AUTO_RESCHEDULE == "off"
    assert cfg.REDIS_URL == "redis://localhost:6379/0"
    assert cfg.SQLALCHEMY_DATABASE_URI.startswith("sqlite:///")
    assert cfg.SQLALCHEMY_DATABASE_URI.endswith("instance/cronmanager.sqlite")


@pytest.mark.parametrize("raw", ["5/minute", "100/minute;1000/hour", "10 per second"])
def test_it_accepts_rate_limits(monkeypatch, raw):
    monkeypatch.setenv("API_RATE_LIMIT", raw)
    assert env_rate("API_RATE_LIMIT", "100/minute") == raw


@pytest.mark.parametrize("raw", ["fast", "100/fortnight", "-/minute", "100"])
def test_it_refuses_malformed_rate_limits(monkeypatch, raw):
    monkeypatch.setenv("API_RATE_LIMIT", raw)
    with pytest.raises(ConfigError, match="API_RATE_LIMIT"):
        config.DevelopmentConfig()


@pytest.mark.parametrize("raw,expected", [
    ("postgres://u:p@db:5432/cm", "postgresql+psycopg2://u:p@db:5432/cm"),
    ("postgresql://u:p@db/cm", "postgresql+psycopg2://u:p@db/cm"),
    ("postgresql+psycopg2://u@db/cm", "postgresql+psycopg2://u@db/cm"),
    ("sqlite:////var/lib/cm.sqlite", "sqlite:////var/lib/cm.sqlite"),
    ("sqlite:///relative.sqlite", "sqlite:///relative.sqlite"),
])
def test_it_picks_the_psycopg2_driver(raw, expected):
    assert database_url(raw) == expected


@pytest.mark.parametrize("raw", ["mysql://u@db/cm", "postgresql+psycopg://u@db/cm", "db.sqlite", "sqlite:/x", ""])
def test_it_refuses_other_database_urls(monkeypatch, raw):
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        database_url(raw)
    monkeypatch.setenv("DATABASE_URL", raw or "nonsense")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        config.DevelopmentConfig()


def test_it_reads_database_url_from_the_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db/cm")
    assert config.DevelopmentConfig().SQLALCHEMY_DATABASE_URI == "postgresql+psycopg2://u@db/cm"


def test_it_refuses_the_default_secret_in_production(monkeypatch):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        config.ProductionConfig()
    monkeypatch.setenv("SECRET_KEY", config.DEFAULT_SECRET)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        config.ProductionConfig()
    monkeypatch.setenv("SECRET_KEY", "short")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        config.ProductionConfig()
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    monkeypatch.setenv("TOKEN_SALT", "t" * 40)
    cfg = config.ProductionConfig()
    assert cfg.SESSION_COOKIE_SECURE is True and cfg.ENV_NAME == "production"


def test_it_refuses_the_default_token_salt_in_production(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    with pytest.raises(ConfigError, match="TOKEN_SALT"):
        config.ProductionConfig()
    monkeypatch.setenv("TOKEN_SALT", config.DEFAULT_TOKEN_SALT)
    with pytest.raises(ConfigError, match="TOKEN_SALT"):
        config.ProductionConfig()
    monkeypatch.setenv("TOKEN_SALT", "t" * 40)
    assert config.ProductionConfig().TOKEN_SALT == "t" * 40
    assert config.DevelopmentConfig().TOKEN_SALT == "t" * 40
    monkeypatch.delenv("TOKEN_SALT")
    assert config.DevelopmentConfig().TOKEN_SALT == config.DEFAULT_TOKEN_SALT  # only production insists


def test_it_reads_the_abuse_limits(monkeypatch):
    cfg = config.DevelopmentConfig()
    assert (cfg.MAX_CONTENT_LENGTH, cfg.JOB_BODY_MAX_BYTES, cfg.AUDIT_PAYLOAD_MAX_BYTES) == (1048576, 65536, 8192)
    assert (cfg.MAX_JOBS_PER_OWNER, cfg.MAX_TOKENS_PER_OWNER, cfg.MAX_CHANNELS_PER_OWNER,
            cfg.SSE_MAX_STREAMS_PER_USER) == (10000, 100, 20, 10)
    monkeypatch.setenv("MAX_CONTENT_LENGTH", "12")
    with pytest.raises(ConfigError, match="MAX_CONTENT_LENGTH"):
        config.DevelopmentConfig()


def test_it_reads_the_secret_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s" * 40 + "\n")
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret))
    monkeypatch.setenv("TOKEN_SALT", "t" * 40)
    assert config.ProductionConfig().SECRET_KEY == "s" * 40


@pytest.mark.parametrize("name,cls", [("development", config.DevelopmentConfig), ("testing", config.TestingConfig)])
def test_it_picks_the_class_from_cronmanager_env(monkeypatch, name, cls):
    monkeypatch.setenv("CRONMANAGER_ENV", name)
    assert type(config.load_config()) is cls


def test_it_refuses_an_unknown_environment(monkeypatch):
    monkeypatch.setenv("CRONMANAGER_ENV", "staging")
    with pytest.raises(ConfigError, match="CRONMANAGER_ENV"):
        config.load_config()


def test_it_loads_a_dotenv_file_without_overriding_the_environment(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text(
        "CRONMANAGER_ENV=production\nSECRET_KEY=from-dotenv-0123456789abcdef\nTOKEN_SALT=salt-from-dotenv-0123456789\n"
        "API_RATE_LIMIT=7/minute\nREGISTRATION_OPEN=yes\n"
    )
    monkeypatch.setenv("API_RATE_LIMIT", "9/minute")
    try:
        cfg = config.load_config()
        assert type(cfg) is config.ProductionConfig
        assert cfg.SECRET_KEY == "from-dotenv-0123456789abcdef"
        assert cfg.REGISTRATION_OPEN is True
        assert cfg.API_RATE_LIMIT == "9/minute"  # the real environment wins
    finally:  # load_dotenv wrote into os.environ directly; undo what monkeypatch does not know about
        import os

        for name in ("CRONMANAGER_ENV", "SECRET_KEY", "REGISTRATION_OPEN", "TOKEN_SALT"):
            os.environ.pop(name, None)


def test_it_refuses_a_bad_value_in_the_dotenv_file(tmp_path):
    (tmp_path / ".env").write_text("LOG_LEVEL=loud\n")
    import os

    try:
        with pytest.raises(ConfigError, match="LOG_LEVEL"):
            config.load_config()
    finally:
        os.environ.pop("LOG_LEVEL", None)


@pytest.mark.parametrize("name,raw", [("RETRY_JITTER", "lots"), ("RETRY_JITTER", "nan"), ("RETRY_JITTER", "-1"),
                                      ("SCHEDULER_TICK_S", "0"), ("SCHEDULER_LOOKAHEAD_S", "1,5"),
                                      ("RETRY_BACKOFF_S", "60;300"), ("RETRY_BACKOFF_S", "60,-1")])
def test_it_refuses_malformed_numbers_naming_the_variable(monkeypatch, name, raw):
    monkeypatch.setenv(name, raw)
    with pytest.raises(ConfigError, match=name):
        config.DevelopmentConfig()


def test_it_reads_numeric_tuning_settings(monkeypatch):
    monkeypatch.setenv("RETRY_BACKOFF_S", "5, 10,20")
    monkeypatch.setenv("RETRY_JITTER", "0.25")
    cfg = config.DevelopmentConfig()
    assert cfg.RETRY_BACKOFF_S == [5, 10, 20] and cfg.RETRY_JITTER == 0.25
    assert cfg.SCHEDULER_TICK_S > 0 and cfg.SCHEDULER_LOOKAHEAD_S > 0
