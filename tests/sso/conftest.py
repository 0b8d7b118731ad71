"""Fixtures for single sign-on and two-factor tests: the test OpenID provider as its own process, the app pointed
at it, and a clock the TOTP checks read (codes are real RFC 6238 codes made with pyotp at that time)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pyotp
import pytest
import requests

from tests.helpers import ROOT

CLIENT_ID = "cron-manager"
CLIENT_SECRET = "provider-client-secret-for-tests"
TEAM_MAP = "platform=Platform:editor,sre=SRE:owner,sre-leads=SRE:viewer"
SSO_SETTINGS = ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_SCOPES", "OIDC_ALLOWED_DOMAINS",
                "OIDC_GROUPS_CLAIM", "OIDC_ADMIN_GROUPS", "OIDC_TEAM_MAP", "PASSWORD_LOGIN", "PUBLIC_URL",
                "REQUIRE_2FA", "TOTP_CLOCK")


@dataclass
class Provider:
    url: str
    process: subprocess.Popen

    def configure(self, person: dict | None = None, faults: tuple[str, ...] = ()) -> None:
        resp = requests.post(f"{self.url}/_control", json={"person": person or {}, "faults": list(faults)},
                             timeout=5)
        assert resp.status_code == 200

    def authorize_requests(self) -> list[dict]:
        return requests.get(f"{self.url}/_control/authorize-requests", timeout=5).json()


@pytest.fixture(scope="session")
def provider() -> Iterator[Provider]:
    process = subprocess.Popen([sys.executable, "-m", "tests.sso.provider", CLIENT_ID, CLIENT_SECRET],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout is not None
    line = process.stdout.readline()  # printed once the socket listens
    assert line.startswith("PORT "), f"the test provider did not start: {line!r}"
    try:
        yield Provider(url=f"http://127.0.0.1:{int(line.split()[1])}", process=process)
    finally:
        process.terminate()
        process.wait(10)


@dataclass
class Clock:
    """What the app's TOTP checks take as now (the TOTP_CLOCK setting)."""

    now: float = 1_900_000_020.0  # 20 s into a 30-second step
    calls: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def code(self, secret: str, offset_s: float = 0) -> str:
        return pyotp.TOTP(secret).at(self.now + offset_s)


@pytest.fixture
def settings(app) -> Iterator[dict]:
    """Sign-in settings of the session app, put back after the test."""
    saved = {key: app.config.get(key) for key in SSO_SETTINGS}
    yield app.config
    app.config.update(saved)


@pytest.fixture
def clock(settings) -> Clock:
    c = Clock()
    settings["TOTP_CLOCK"] = c
    return c


@pytest.fixture
def sso(settings, provider) -> Provider:
    from config import parse_team_map

    settings.update(OIDC_ISSUER=provider.url, OIDC_CLIENT_ID=CLIENT_ID, OIDC_CLIENT_SECRET=CLIENT_SECRET,
                    OIDC_SCOPES="openid email profile", OIDC_ALLOWED_DOMAINS=[], OIDC_GROUPS_CLAIM="groups",
                    OIDC_ADMIN_GROUPS=["cm-admins"], OIDC_TEAM_MAP=parse_team_map(TEAM_MAP), PASSWORD_LOGIN="on",
                    PUBLIC_URL="")
    provider.configure()
    return provider


def sso_round_trip(client, provider: Provider, start: str = "/auth/oidc/login"):
    """Through the whole redirect dance with a test client: our app, the provider over HTTP, back to our callback.
    Returns the callback's response."""
    resp = client.get(start)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert resp.headers["Location"].startswith(provider.url + "/authorize?")
    at_provider = requests.get(resp.headers["Location"], allow_redirects=False, timeout=10)
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["Location"])
    assert back.path == "/auth/oidc/callback"
    return client.get(f"{back.path}?{back.query}")
