"""Sign-in settings (SPEC §15, §18): parsed strictly at start, and a mistake stops the app with one line that
names the setting."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import config
from config import ConfigError, TeamMapping, parse_team_map
from tests.helpers import ROOT

SETTINGS = ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_SCOPES", "OIDC_ALLOWED_DOMAINS",
            "OIDC_GROUPS_CLAIM", "OIDC_ADMIN_GROUPS", "OIDC_TEAM_MAP", "PASSWORD_LOGIN", "REQUIRE_2FA", "PUBLIC_URL")
SSO = {"OIDC_ISSUER": "https://id.example.com/realms/acme/", "OIDC_CLIENT_ID": "cron",
       "OIDC_CLIENT_SECRET": "s3cret-value"}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(config, "BASE_DIR", tmp_path)


def make(monkeypatch, **env: str) -> config.TestingConfig:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return config.TestingConfig()


def test_it_reads_every_setting_with_its_default(monkeypatch):
    cfg = make(monkeypatch, **SSO, OIDC_ALLOWED_DOMAINS="Acme.com, @corp.example", OIDC_ADMIN_GROUPS="admins",
               OIDC_TEAM_MAP="platform=Platform:editor, sre=SRE Team:OWNER", PASSWORD_LOGIN="admins",
               REQUIRE_2FA="all")
    assert cfg.OIDC_ISSUER == "https://id.example.com/realms/acme"
    assert cfg.OIDC_SCOPES == "openid email profile" and cfg.OIDC_GROUPS_CLAIM == "groups"
    assert cfg.OIDC_ALLOWED_DOMAINS == ["acme.com", "corp.example"]
    assert cfg.OIDC_ADMIN_GROUPS == ["admins"]
    assert cfg.OIDC_TEAM_MAP == [TeamMapping("platform", "Platform", "editor"), TeamMapping("sre", "SRE Team", "owner")]
    assert (cfg.PASSWORD_LOGIN, cfg.REQUIRE_2FA) == ("admins", "all")
    plain = make(monkeypatch, **{name: "" for name in SETTINGS})
    assert (plain.PASSWORD_LOGIN, plain.REQUIRE_2FA, plain.OIDC_TEAM_MAP) == ("on", "off", [])


@pytest.mark.parametrize(("env", "named"), [
    ({"OIDC_ISSUER": "https://id.example.com"}, "OIDC_CLIENT_ID"),
    ({"OIDC_ISSUER": "https://id.example.com", "OIDC_CLIENT_ID": "x"}, "OIDC_CLIENT_SECRET"),
    ({"OIDC_CLIENT_ID": "x"}, "OIDC_CLIENT_ID"),
    ({"OIDC_ISSUER": "id.example.com", "OIDC_CLIENT_ID": "x", "OIDC_CLIENT_SECRET": "y"}, "OIDC_ISSUER"),
    ({**SSO, "OIDC_SCOPES": "email profile"}, "OIDC_SCOPES"),
    ({**SSO, "OIDC_TEAM_MAP": "platform"}, "OIDC_TEAM_MAP"),
    ({**SSO, "OIDC_TEAM_MAP": "platform=Platform:boss"}, "OIDC_TEAM_MAP"),
    ({**SSO, "OIDC_TEAM_MAP": "=Platform:owner"}, "OIDC_TEAM_MAP"),
    ({"PASSWORD_LOGIN": "off"}, "PASSWORD_LOGIN"),
    ({"PASSWORD_LOGIN": "admins"}, "PASSWORD_LOGIN"),
    ({"PASSWORD_LOGIN": "sometimes"}, "PASSWORD_LOGIN"),
    ({"REQUIRE_2FA": "yes"}, "REQUIRE_2FA"),
    ({"PUBLIC_URL": "cron.example.com"}, "PUBLIC_URL"),
])
def test_a_misconfiguration_names_the_setting(monkeypatch, env, named):
    with pytest.raises(ConfigError, match=named):
        make(monkeypatch, **env)


def test_team_map_keeps_team_names_with_spaces_and_colons():
    assert parse_team_map("ops=Ops: Night:viewer") == [TeamMapping("ops", "Ops: Night", "viewer")]


def test_the_app_stops_at_start_with_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    env.update(CRONMANAGER_ENV="testing", DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite",
               OIDC_ISSUER="https://id.example.com")
    done = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines == ["Configuration error: OIDC_CLIENT_ID must be set when OIDC_ISSUER is set"]
