"""One home for Redis connections: direct, or through Sentinel for every user; settings checked at start."""

from __future__ import annotations

import pytest
from redis import BlockingConnectionPool

from config import Config, ConfigError
from cronmanager.lib import redis_client

SENTINEL = {"REDIS_URL": "redis://:nodepw@ignored:6379/7", "REDIS_SENTINELS": [("10.0.0.1", 26379), ("h2", 26380)],
            "REDIS_SENTINEL_MASTER": "cm", "REDIS_SENTINEL_PASSWORD": "sentpw"}


def test_without_sentinels_every_user_gets_the_url():
    config = {"REDIS_URL": "redis://127.0.0.1:6379/3"}
    client = redis_client.connect(config, max_connections=12, timeout=5)
    assert isinstance(client.connection_pool, BlockingConnectionPool)
    assert client.connection_pool.max_connections == 12
    assert redis_client.limiter_storage(config) == ("redis://127.0.0.1:6379/3", {})
    assert redis_client.dashboard_settings(config)["RQ_DASHBOARD_REDIS_URL"] == "redis://127.0.0.1:6379/3"


def test_with_sentinels_every_user_asks_them_for_the_master():
    client = redis_client.connect(SENTINEL, max_connections=12, timeout=5)
    pool = client.connection_pool
    assert isinstance(pool, redis_client.BlockingSentinelPool) and pool.service_name == "cm"
    assert pool.max_connections == 12
    assert pool.connection_kwargs["db"] == 7 and pool.connection_kwargs["password"] == "nodepw"
    sentinels = pool.sentinel_manager.sentinels
    assert [(s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"])
            for s in sentinels] == [("10.0.0.1", 26379), ("h2", 26380)]
    assert all(s.connection_pool.connection_kwargs["password"] == "sentpw" for s in sentinels)

    uri, options = redis_client.limiter_storage(SENTINEL)
    assert uri == "redis+sentinel://10.0.0.1:26379,h2:26380/cm"
    assert options["use_replicas"] is False and options["db"] == 7 and options["password"] == "nodepw"
    assert options["sentinel_kwargs"]["password"] == "sentpw"
    assert redis_client.dashboard_settings(SENTINEL)["RQ_DASHBOARD_REDIS_URL"] == \
        "redis+sentinel://10.0.0.1:26379,h2:26380/cm/7"


@pytest.mark.parametrize(("env", "named"), [
    ({"REDIS_SENTINELS": "10.0.0.1"}, "REDIS_SENTINELS="),
    ({"REDIS_SENTINELS": "a:1,b:notaport", "REDIS_SENTINEL_MASTER": "cm"}, "REDIS_SENTINELS="),
    ({"REDIS_SENTINELS": "a:70000", "REDIS_SENTINEL_MASTER": "cm"}, "REDIS_SENTINELS="),
    ({"REDIS_SENTINELS": "a:26379"}, "REDIS_SENTINEL_MASTER"),
])
def test_a_bad_sentinel_setting_stops_the_start_naming_it(monkeypatch, env, named):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as err:
        Config()
    assert str(err.value).startswith(named) or named in str(err.value)
    assert "\n" not in str(err.value)


def test_sentinels_parse_with_their_master(monkeypatch):
    monkeypatch.setenv("REDIS_SENTINELS", " 10.0.0.1:26379, [::1]:26380 ")
    monkeypatch.setenv("REDIS_SENTINEL_MASTER", "cm")
    cfg = Config()
    assert cfg.REDIS_SENTINELS == [("10.0.0.1", 26379), ("::1", 26380)]
    assert cfg.REDIS_SENTINEL_MASTER == "cm" and cfg.REDIS_SENTINEL_PASSWORD is None
