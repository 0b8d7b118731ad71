"""Single sign-on against the test OpenID provider process (SPEC §18): the code flow with PKCE, just-in-time
accounts, admin role and team memberships synced from groups at every sign-in, and every refusal: each shows
the login page with a message, starts no session and is audited with its reason."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import run_sql
from tests.sso.conftest import CLIENT_ID, sso_round_trip

pytestmark = pytest.mark.slow


def signed_in(client) -> bool:
    return client.get("/settings").status_code == 200


def failures(app) -> list[tuple]:
    return run_sql(app, "SELECT request_payload->>'reason', response_status, request_payload->>'method' "
                        "FROM audit_logs WHERE action = 'auth.login_failed' ORDER BY id")


def test_it_signs_in_a_new_person_with_pkce_and_audits_the_method(app, client, sso):
    sso.configure(person={"sub": "u-1", "email": "Ada@Example.com"})
    resp = sso_round_trip(client, sso)
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/"
    assert signed_in(client)
    [request] = sso.authorize_requests()[-1:]
    assert request["code_challenge_method"] == "S256" and request["has_nonce"] and request["client_id"] == CLIENT_ID
    assert request["redirect_uri"] == "http://localhost/auth/oidc/callback"
    assert set(request["scope"].split()) == {"openid", "email", "profile"}
    [(email, role, password_hash, issuer, subject)] = run_sql(
        app, "SELECT email, role, password_hash, sso_issuer, sso_subject FROM users")
    assert (email, role, issuer, subject) == ("ada@example.com", "USER", sso.url, "u-1")
    assert password_hash == "!sso"
    [(method, created)] = run_sql(app, "SELECT request_payload->>'method', request_payload->>'created' "
                                       "FROM audit_logs WHERE action = 'auth.login'")
    assert (method, created) == ("oidc", "true")


def test_the_same_subject_signs_in_to_the_same_account(app, client, sso):
    sso.configure(person={"sub": "u-2", "email": "grace@example.com"})
    assert sso_round_trip(client, sso).status_code == 302
    client.post("/logout")
    second = app.test_client()
    assert sso_round_trip(second, sso).status_code == 302
    assert run_sql(app, "SELECT count(*) FROM users")[0][0] == 1


def test_groups_make_admins_and_team_members_and_are_synced_at_each_sign_in(app, client, admin, sso):
    sso.configure(person={"sub": "u-3", "email": "lin@example.com", "groups": ["cm-admins", "platform", "sre"]})
    assert sso_round_trip(client, sso).status_code == 302
    members = run_sql(app, "SELECT t.name, m.role FROM team_members m JOIN teams t ON t.id = m.team_id "
                           "JOIN users u ON u.id = m.user_id WHERE u.email = 'lin@example.com' ORDER BY t.name")
    assert members == [("Platform", "editor"), ("SRE", "owner")]
    assert run_sql(app, "SELECT role FROM users WHERE email = 'lin@example.com'") == [("ADMIN",)]
    audited = run_sql(app, "SELECT action, request_payload->>'via' FROM audit_logs WHERE action LIKE 'team.%' "
                           "ORDER BY id")
    assert audited == [("team.create", "oidc"), ("team.member_set", "oidc")] * 2

    sso.configure(person={"sub": "u-3", "email": "lin@example.com", "groups": ["sre-leads"]})
    other = app.test_client()
    assert sso_round_trip(other, sso).status_code == 302
    members = run_sql(app, "SELECT t.name, m.role FROM team_members m JOIN teams t ON t.id = m.team_id "
                           "JOIN users u ON u.id = m.user_id WHERE u.email = 'lin@example.com' ORDER BY t.name")
    # left platform; SRE's only owner stays owner (a team keeps one), so sre-leads' viewer role waits
    assert members == [("SRE", "owner")]
    assert run_sql(app, "SELECT role FROM users WHERE email = 'lin@example.com'") == [("USER",)]
    assert run_sql(app, "SELECT count(*) FROM teams")[0][0] == 2


def test_an_existing_password_account_is_linked_by_verified_email(app, client, owner, sso):
    sso.configure(person={"sub": "u-4", "email": owner.email})
    assert sso_round_trip(client, sso).status_code == 302
    assert run_sql(app, "SELECT sso_subject FROM users WHERE id = :id", id=owner.id) == [("u-4",)]


@pytest.mark.parametrize(("faults", "person", "reason", "status", "message"), [
    (("nonce",), {}, "bad_nonce", 401, "nonce mismatch"),
    (("expired",), {}, "token_expired", 401, "ID token has expired"),
    (("wrong_key",), {}, "bad_signature", 401, "not signed by one of its published keys"),
    (("audience",), {}, "invalid_token", 401, "not valid for this application"),
    (("state",), {}, "bad_state", 401, "state mismatch"),
    (("error",), {}, "provider_error", 401, "The user denied access"),
    ((), {"email_verified": False}, "email_unverified", 403, "not verified"),
    (("token_down",), {}, "provider_unreachable", 503, "cannot be reached right now"),
])
def test_each_refusal_shows_the_login_page_starts_no_session_and_is_audited(app, client, sso, faults, person,
                                                                          reason, status, message):
    sso.configure(person=person, faults=faults)
    resp = sso_round_trip(client, sso)
    assert resp.status_code == status
    page = resp.get_data(as_text=True)
    assert "data-sso-error" in page and message in page.replace("&#39;", "'")
    assert not signed_in(client)
    assert failures(app) == [(reason, status, "oidc")]
    assert run_sql(app, "SELECT count(*) FROM login_sessions")[0][0] == 0


def test_a_domain_not_allowed_is_refused(app, client, sso, settings):
    settings["OIDC_ALLOWED_DOMAINS"] = ["corp.example"]
    sso.configure(person={"email": "eve@example.com"})
    resp = sso_round_trip(client, sso)
    assert resp.status_code == 403
    assert "Accounts of your e-mail domain may not sign in here." in resp.get_data(as_text=True)
    assert failures(app) == [("domain_not_allowed", 403, "oidc")]
    assert run_sql(app, "SELECT count(*) FROM users")[0][0] == 0
    sso.configure(person={"email": "eve@CORP.example"})
    assert sso_round_trip(client, sso).status_code == 302


def test_a_deactivated_user_cannot_sign_in_through_sso(app, client, owner, sso):
    run_sql(app, "UPDATE users SET is_active = false WHERE id = :id", id=owner.id)
    sso.configure(person={"email": owner.email})
    resp = sso_round_trip(client, sso)
    assert resp.status_code == 403
    assert "Your account is deactivated" in resp.get_data(as_text=True)
    assert failures(app) == [("user_deactivated", 403, "oidc")]


def test_a_callback_without_a_pending_login_is_refused(app, client, sso):
    resp = client.get("/auth/oidc/callback?code=abc&state=xyz")
    assert resp.status_code == 401
    assert "no sign-in in progress" in resp.get_data(as_text=True)
    assert failures(app) == [("no_pending_login", 401, "oidc")]


def test_a_callback_is_not_accepted_twice(app, client, sso):
    first = client.get("/auth/oidc/login")
    import requests

    back = requests.get(first.headers["Location"], allow_redirects=False, timeout=10).headers["Location"]
    path = back.split("localhost", 1)[1]
    assert client.get(path).status_code == 302
    client.post("/logout")
    assert client.get(path).status_code == 401
    assert failures(app) == [("no_pending_login", 401, "oidc")]


def test_a_provider_that_is_down_is_a_clear_message_not_a_500(app, client, sso, settings):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    settings["OIDC_ISSUER"] = dead
    resp = client.get("/auth/oidc/login")
    assert resp.status_code == 503
    assert "cannot be reached" in resp.get_data(as_text=True)
    assert failures(app) == [("provider_unreachable", 503, "oidc")]


def test_the_login_page_offers_sso_and_password_login_follows_the_setting(app, client, admin, owner, sso,
                                                                          settings):
    from tests.helpers import PERSONA_PASSWORD

    page = client.get("/login").get_data(as_text=True)
    assert "Sign in with SSO" in page and "data-password-login" in page
    settings["PASSWORD_LOGIN"] = "admins"
    refused = client.post("/api/v1/auth/login", json={"email": owner.email, "password": PERSONA_PASSWORD})
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "password_login_disabled"
    assert client.post("/api/v1/auth/login", json={"email": admin.email, "password": PERSONA_PASSWORD}
                       ).status_code == 200
    resp = client.post("/login", data={"email": owner.email, "password": PERSONA_PASSWORD})
    assert resp.status_code == 403
    settings["PASSWORD_LOGIN"] = "off"
    page = client.get("/login").get_data(as_text=True)
    assert "Sign in with SSO" in page and "data-password-login" not in page
    assert client.post("/api/v1/auth/login", json={"email": admin.email, "password": PERSONA_PASSWORD}
                       ).status_code == 403


def test_without_sso_settings_the_login_page_has_no_sso_button(app, client):
    assert "Sign in with SSO" not in client.get("/login").get_data(as_text=True)
    assert client.get("/auth/oidc/login").status_code == 404


def test_require_2fa_leaves_single_sign_on_to_the_providers_mfa(app, client, sso, settings):
    settings["REQUIRE_2FA"] = "all"
    sso.configure(person={"sub": "u-9", "email": "mo@example.com"})
    resp = sso_round_trip(client, sso)
    assert resp.headers["Location"] == "/"
    assert client.get("/jobs").status_code == 200
    assert client.get("/api/v1/cron").status_code == 200


def test_entra_ids_verified_domain_claim_counts_as_a_verified_email(app, client, sso):
    sso.configure(person={"sub": "u-10", "email": "ida@example.com", "email_verified": None, "xms_edov": True})
    assert sso_round_trip(client, sso).status_code == 302
    assert signed_in(client)
