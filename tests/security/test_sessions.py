"""Sessions end for real (SPEC §6): a stolen cookie or token stops working when its owner signs out."""

from __future__ import annotations

import threading

import requests

from tests.conftest import run_sql
from tests.security.conftest import (
    PASSWORD,
    api_login,
    auth,
    browser_login,
    copy_cookies,
    me,
    page_csrf,
)


def test_a_copied_session_cookie_stops_working_after_logout(server, owner):
    victim = browser_login(server, owner.email)
    thief = copy_cookies(victim)
    assert me(server, session=thief) == 200
    resp = victim.post(f"{server}/logout", data={"csrf_token": page_csrf(victim, server)}, allow_redirects=False)
    assert resp.status_code == 302
    assert me(server, session=thief) == 401
    assert thief.get(f"{server}/settings", allow_redirects=False).status_code == 302  # back to the login page


def test_a_copied_remember_me_cookie_stops_working_after_logout(server, owner):
    victim = browser_login(server, owner.email, remember=True)
    thief = copy_cookies(victim, {"remember_token"})
    assert "remember_token" in {c.name for c in thief.cookies}
    assert me(server, session=thief) == 200  # the remember-me cookie alone signs the thief in ...
    victim.post(f"{server}/logout", data={"csrf_token": page_csrf(victim, server)})
    assert me(server, session=copy_cookies(thief, {"remember_token"})) == 401  # ... until the victim signs out


def test_sign_out_everywhere_ends_every_session_and_token(server, client, owner):
    laptop = browser_login(server, owner.email, remember=True)
    phone = browser_login(server, owner.email)
    stolen_remember = copy_cookies(laptop, {"remember_token"})
    login = api_login(server, owner.email)
    token = requests.post(f"{server}/api/v1/auth/tokens", json={"name": "ci", "scopes": ["read"]},
                          headers=auth(login["access_token"])).json()["token"]
    assert {me(server, session=phone), me(server, token=login["access_token"]), me(server, token=token)} == {200}

    page = laptop.get(f"{server}/settings").text
    assert "Sign out everywhere" in page
    resp = laptop.post(f"{server}/settings/sign-out-everywhere", data={"csrf_token": page_csrf(laptop, server)},
                       allow_redirects=False)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]

    assert me(server, session=laptop) == 401
    assert me(server, session=phone) == 401
    assert me(server, session=stolen_remember) == 401
    assert me(server, token=login["access_token"]) == 401
    assert me(server, token=token) == 401
    resp = requests.post(f"{server}/api/v1/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert resp.status_code == 401
    assert me(server, session=browser_login(server, owner.email)) == 200  # signing in again works


def test_sign_out_everywhere_ends_open_live_streams(server, owner):
    stream = requests.get(f"{server}/api/v1/events", headers=auth(owner.access), stream=True, timeout=10)
    assert stream.status_code == 200
    laptop = browser_login(server, owner.email)
    laptop.post(f"{server}/settings/sign-out-everywhere", data={"csrf_token": page_csrf(laptop, server)})
    ended = threading.Event()

    def drain() -> None:
        for _ in stream.iter_content(chunk_size=None):
            pass
        ended.set()

    threading.Thread(target=drain, daemon=True).start()
    assert ended.wait(15), "the open stream kept running after sign out everywhere"  # heartbeat is 0.5 s here
    resp = requests.get(f"{server}/api/v1/events", headers=auth(owner.access), timeout=10)
    assert resp.status_code == 401  # and it cannot reconnect


def test_a_password_change_ends_every_other_session_and_token(server, owner):
    changer = browser_login(server, owner.email)
    other = browser_login(server, owner.email)
    login = api_login(server, owner.email)
    resp = changer.post(f"{server}/settings/password", allow_redirects=False, data={
        "csrf_token": page_csrf(changer, server), "password-current_password": PASSWORD,
        "password-new_password": "a brand new passphrase", "password-confirm": "a brand new passphrase"})
    assert resp.status_code == 302, resp.text[:300]
    assert me(server, session=changer) == 200  # the browser that changed it goes on, in a fresh session
    assert me(server, session=other) == 401
    assert me(server, token=login["access_token"]) == 401
    assert requests.post(f"{server}/api/v1/auth/refresh",
                         json={"refresh_token": login["refresh_token"]}).status_code == 401


def test_deactivation_ends_every_session_for_good(app, server, owner):
    """The users API calls end_all_sessions when it deactivates someone; reactivating must not revive anything."""
    from cronmanager.auth.sessions import end_all_sessions
    from cronmanager.extensions import db
    from cronmanager.models import User

    browser = browser_login(server, owner.email, remember=True)
    login = api_login(server, owner.email)
    token = requests.post(f"{server}/api/v1/auth/tokens", json={"name": "ci", "scopes": ["read"]},
                          headers=auth(login["access_token"])).json()["token"]
    with app.test_request_context():
        user = db.session.get(User, owner.id)
        user.is_active = False
        end_all_sessions(user)
        db.session.commit()
    assert {me(server, session=browser), me(server, token=login["access_token"]), me(server, token=token)} == {401}
    run_sql(app, "UPDATE users SET is_active = true WHERE id = :i", i=owner.id)
    assert {me(server, session=browser), me(server, token=login["access_token"]), me(server, token=token)} == {401}
    assert requests.post(f"{server}/api/v1/auth/refresh",
                         json={"refresh_token": login["refresh_token"]}).status_code == 401


def test_refresh_tokens_rotate_and_reuse_ends_the_chain(app, server, owner):
    login = api_login(server, owner.email)
    first = requests.post(f"{server}/api/v1/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh_token"] != login["refresh_token"]
    assert me(server, token=rotated["access_token"]) == 200

    # the thief replays the spent refresh token: refused, and the whole chain dies with it
    replay = requests.post(f"{server}/api/v1/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert replay.status_code == 401
    assert "already used" in replay.json()["error"]["message"]
    assert requests.post(f"{server}/api/v1/auth/refresh",
                         json={"refresh_token": rotated["refresh_token"]}).status_code == 401
    assert me(server, token=rotated["access_token"]) == 401
    assert me(server, token=login["access_token"]) == 401
    events = run_sql(app, "SELECT user_id FROM security_events WHERE kind = 'token.refresh_reuse'")
    assert [r[0] for r in events] == [owner.id]
    assert me(server, token=api_login(server, owner.email)["access_token"]) == 200  # other logins are untouched


def test_login_refresh_and_register_ignore_a_stale_authorization_header(app, server, owner):
    login = api_login(server, owner.email)
    stale = {"Authorization": "Bearer expired.or.garbage"}
    resp = requests.post(f"{server}/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD},
                         headers=stale)
    assert resp.status_code == 200, resp.text
    resp = requests.post(f"{server}/api/v1/auth/refresh", json={"refresh_token": login["refresh_token"]},
                         headers=stale)
    assert resp.status_code == 200, resp.text
    resp = requests.post(f"{server}/api/v1/auth/register", json={"email": "new@example.com", "password": PASSWORD},
                         headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert resp.status_code == 403  # registration is closed: judged as anonymous, not refused as a bad credential
    assert resp.json()["error"]["code"] == "forbidden"


def test_retention_deletes_sessions_that_can_no_longer_authenticate(app, server, owner):
    from datetime import timedelta

    from cronmanager.maintenance.retention import run
    from cronmanager.models import utcnow

    live = api_login(server, owner.email)
    spent = api_login(server, owner.email)
    old = api_login(server, owner.email)
    requests.post(f"{server}/api/v1/auth/refresh", json={"refresh_token": spent["refresh_token"]})
    requests.post(f"{server}/api/v1/auth/refresh", json={"refresh_token": spent["refresh_token"]})  # reuse: revoked
    browser = browser_login(server, owner.email)
    long_ago = utcnow() - timedelta(days=400)
    run_sql(app, "UPDATE login_sessions SET created_at = :t WHERE kind = 'web'", t=long_ago)
    run_sql(app, "UPDATE login_sessions SET created_at = :t, last_used_at = NULL WHERE id = ("
                 "SELECT id FROM login_sessions WHERE kind = 'api' AND revoked_at IS NULL "
                 "ORDER BY created_at DESC LIMIT 1)", t=long_ago)
    assert run_sql(app, "SELECT count(*) FROM login_sessions")[0][0] == 6  # + the admin's and owner's fixtures
    with app.app_context():
        summary = run(utcnow())
    assert summary["login_sessions_deleted"] == 3
    assert me(server, token=live["access_token"]) == 200
    assert me(server, token=old["access_token"]) == 401
    assert me(server, session=browser) == 401
