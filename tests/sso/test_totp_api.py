"""Two-factor authentication through the API (SPEC §18): enrol, confirm, log in with a code or a recovery code,
replay refused, wrong codes locked out, disable, an administrator's reset, and REQUIRE_2FA."""

from __future__ import annotations

import pyotp
from sqlalchemy import text

from tests.conftest import bearer, run_sql
from tests.helpers import PERSONA_PASSWORD

LOGIN = "/api/v1/auth/login"


def enrol(client, persona, clock) -> tuple[str, list[str]]:
    """Turn 2FA on for `persona` through the API; (secret, recovery codes). Moves the clock past the step used."""
    resp = client.post("/api/v1/auth/2fa/enroll", headers=persona.headers)
    assert resp.status_code == 200, resp.get_json()
    secret = resp.get_json()["secret"]
    resp = client.post("/api/v1/auth/2fa/confirm", json={"totp": clock.code(secret)}, headers=persona.headers)
    assert resp.status_code == 200, resp.get_json()
    clock.now += 30
    return secret, resp.get_json()["recovery_codes"]


def login(client, persona, **extra):
    return client.post(LOGIN, json={"email": persona.email, "password": PERSONA_PASSWORD, **extra})


def test_it_enrols_with_a_real_code_and_reports_two_factor_in_me(app, client, owner, clock):
    resp = client.post("/api/v1/auth/2fa/enroll", headers=owner.headers)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["otpauth_uri"].startswith("otpauth://totp/")
    assert f"secret={body['secret']}" in body["otpauth_uri"]
    assert pyotp.parse_uri(body["otpauth_uri"]).secret == body["secret"]
    assert client.get("/api/v1/auth/me", headers=owner.headers).get_json()["two_factor"] is False  # not yet active

    wrong = client.post("/api/v1/auth/2fa/confirm", json={"totp": clock.code(body["secret"], offset_s=300)},
                        headers=owner.headers)
    assert wrong.status_code == 422
    assert wrong.get_json()["error"]["fields"] == {"totp": "wrong code"}

    resp = client.post("/api/v1/auth/2fa/confirm", json={"totp": clock.code(body["secret"])}, headers=owner.headers)
    assert resp.status_code == 200
    codes = resp.get_json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get("/api/v1/auth/me", headers=owner.headers).get_json()["two_factor"] is True
    again = client.post("/api/v1/auth/2fa/enroll", headers=owner.headers)
    assert again.status_code == 409


def test_it_stores_the_secret_encrypted_and_recovery_codes_hashed(app, client, owner, clock):
    secret, codes = enrol(client, owner, clock)
    [(stored,)] = run_sql(app, "SELECT totp_secret FROM users WHERE id = :id", id=owner.id)
    assert secret not in stored and stored.startswith("gAAAA")  # a Fernet token
    hashes = [r[0] for r in run_sql(app, "SELECT code_hash FROM recovery_codes WHERE user_id = :id", id=owner.id)]
    assert len(hashes) == 10
    assert not set(codes) & set(hashes)
    audit = " ".join(str(r) for r in run_sql(app, "SELECT request_payload, changes FROM audit_logs"))
    assert secret not in audit and not any(code in audit for code in codes)


def test_it_asks_for_the_code_then_logs_in_with_it(app, client, owner, clock):
    secret, _ = enrol(client, owner, clock)
    resp = login(client, owner)
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "totp_required"
    resp = login(client, owner, totp=clock.code(secret))
    assert resp.status_code == 200
    assert client.get("/api/v1/auth/me", headers=bearer(resp.get_json()["access_token"])).status_code == 200


def test_it_refuses_a_code_replayed_inside_its_window(app, client, owner, clock):
    secret, _ = enrol(client, owner, clock)
    code = clock.code(secret)
    assert login(client, owner, totp=code).status_code == 200
    clock.now += 10  # same 30-second step, and still inside the drift window after it
    replay = login(client, owner, totp=code)
    assert replay.status_code == 401
    assert replay.get_json()["error"]["code"] == "totp_invalid"
    clock.now += 30
    assert login(client, owner, totp=clock.code(secret)).status_code == 200  # the next step's code is fine


def test_it_accepts_one_step_of_clock_drift_but_not_more(app, client, owner, clock):
    secret, _ = enrol(client, owner, clock)
    assert login(client, owner, totp=clock.code(secret, offset_s=-30)).status_code == 401  # enrolment used it
    assert login(client, owner, totp=clock.code(secret, offset_s=30)).status_code == 200
    clock.now += 120
    assert login(client, owner, totp=clock.code(secret, offset_s=-90)).status_code == 401


def test_it_logs_in_once_with_each_recovery_code(app, client, owner, clock):
    _, codes = enrol(client, owner, clock)
    assert login(client, owner, recovery_code=codes[0].upper()).status_code == 200
    again = login(client, owner, recovery_code=codes[0])
    assert again.status_code == 401
    assert again.get_json()["error"]["fields"] == {"recovery_code": "wrong or already used code"}
    assert login(client, owner, recovery_code=codes[1]).status_code == 200


def test_wrong_codes_count_toward_the_lockout(app, client, owner, clock):
    secret, _ = enrol(client, owner, clock)
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        resp = login(client, owner, totp="000000" if clock.code(secret) != "000000" else "111111")
        assert resp.status_code == 401
    locked = login(client, owner, totp=clock.code(secret))
    assert locked.status_code == 429
    assert locked.get_json()["error"]["code"] == "locked"
    reasons = run_sql(app, "SELECT request_payload->>'reason' FROM audit_logs WHERE action = 'auth.login_failed'")
    assert [r[0] for r in reasons] == ["wrong_second_factor"] * limit


def test_it_disables_with_password_and_code_only(app, client, owner, clock):
    secret, _ = enrol(client, owner, clock)
    resp = client.delete("/api/v1/auth/2fa", json={"password": "wrong password", "totp": clock.code(secret)},
                         headers=owner.headers)
    assert resp.status_code == 422
    assert "password" in resp.get_json()["error"]["fields"]
    resp = client.delete("/api/v1/auth/2fa", json={"password": PERSONA_PASSWORD, "totp": "123"},
                         headers=owner.headers)
    assert resp.status_code == 422
    assert "totp" in resp.get_json()["error"]["fields"]
    resp = client.delete("/api/v1/auth/2fa", json={"password": PERSONA_PASSWORD, "totp": clock.code(secret)},
                         headers=owner.headers)
    assert resp.status_code == 204
    assert login(client, owner).status_code == 200
    assert run_sql(app, "SELECT count(*) FROM recovery_codes")[0][0] == 0


def test_an_admin_resets_a_users_factor_and_their_sessions_end(app, client, admin, owner, clock):
    enrol(client, owner, clock)
    assert client.delete(f"/api/v1/users/{owner.id}/2fa", headers=owner.headers).status_code == 403
    resp = client.delete(f"/api/v1/users/{owner.id}/2fa", headers=admin.headers)
    assert resp.status_code == 204
    assert client.get("/api/v1/auth/me", headers=owner.headers).status_code == 401  # the session ended
    assert login(client, owner).status_code == 200  # a password alone again
    [(resource,)] = run_sql(app, "SELECT resource_id FROM audit_logs WHERE action = 'user.2fa_reset' "
                                 "AND response_status = 204")
    assert resource == owner.id
    assert client.delete(f"/api/v1/users/{owner.id}/2fa", headers=admin.headers).status_code == 409


def test_require_2fa_for_admins_allows_only_enrolment(app, client, admin, owner, settings, clock):
    settings["REQUIRE_2FA"] = "admins"
    refused = client.get("/api/v1/cron", headers=admin.headers)
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "2fa_enrollment_required"
    assert client.get("/api/v1/cron", headers=owner.headers).status_code == 200  # a USER is out of scope
    assert client.get("/api/v1/auth/me", headers=admin.headers).status_code == 200
    enrol(client, admin, clock)
    assert client.get("/api/v1/cron", headers=admin.headers).status_code == 200


def test_require_2fa_all_covers_users_and_their_tokens(app, client, admin, owner, settings, clock):
    from tests.conftest import make_token

    token = make_token(client, owner, ["read"])
    settings["REQUIRE_2FA"] = "all"
    for headers in (owner.headers, bearer(token)):
        resp = client.get("/api/v1/cron", headers=headers)
        assert resp.status_code == 403
        assert resp.get_json()["error"]["code"] == "2fa_enrollment_required"
    enrol(client, owner, clock)
    assert client.get("/api/v1/cron", headers=bearer(token)).status_code == 200


def test_login_fields_are_validated(app, client, owner):
    resp = client.post(LOGIN, json={"email": owner.email, "password": PERSONA_PASSWORD, "totp": "x" * 40})
    assert resp.status_code == 422
    assert "totp" in str(resp.get_json()["error"])
    with app.app_context():
        from cronmanager.extensions import db

        assert db.session.execute(text("SELECT count(*) FROM recovery_codes")).scalar_one() == 0


def test_key_rotation_re_encrypts_the_totp_secret(app, client, owner, clock, keep_limiter, database_url,
                                                   redis_prefix):
    from cryptography.fernet import Fernet

    from cronmanager import create_app
    from tests.conftest import make_config

    secret, _ = enrol(client, owner, clock)
    new_key = Fernet.generate_key().decode()
    rotated = create_app(make_config(database_url, redis_prefix, ENCRYPTION_KEYS=[new_key]))
    result = rotated.test_cli_runner().invoke(args=["secrets", "rotate"])
    assert result.exit_code == 0 and "two-factor secrets of 1 user" in result.output, result.output
    [(stored,)] = run_sql(app, "SELECT totp_secret FROM users WHERE id = :id", id=owner.id)
    assert Fernet(new_key.encode()).decrypt(stored.encode()).decode() == secret


def test_the_cli_resets_a_factor_for_an_admin_locked_out_of_it(app, client, admin, clock):
    enrol(client, admin, clock)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "reset-2fa", admin.email])
    assert result.exit_code == 0, result.output
    assert "two-factor authentication removed" in result.output
    assert login(client, admin).status_code == 200
    again = runner.invoke(args=["users", "reset-2fa", admin.email])
    assert again.exit_code == 1 and "has no second factor" in again.output
    assert run_sql(app, "SELECT request_payload->>'via' FROM audit_logs WHERE action = 'user.2fa_reset'") == [("cli",)]
