"""The one rule for secret-looking names: any case, any place in the name, Unicode's case folding included."""

from __future__ import annotations

import pytest

from cronmanager.secrets.names import looks_secret


@pytest.mark.parametrize("name", ["Authorization", "Proxy-Authorization", "Cookie", "X-Api-KEY", "x-auth-token",
                                  "PASSWORD", "db_pass", "client_secret", "Signature", "totp_code",
                                  "recovery_codes", "AWS-Credentials",
                                  "api\u212aey", "pa\u017fsword", "Tök\u212aen-Key"])  # Kelvin sign, long s
def test_secret_looking_names(name: str) -> None:
    assert looks_secret(name)


@pytest.mark.parametrize("name", ["X-CronManager-Job", "X-CronManager-Scheduled-For", "Accept", "User-Agent",
                                  "Content-Type", "page", "X-Trace", "Kéy-less", "tökén"])
def test_plain_names(name: str) -> None:
    assert not looks_secret(name)
