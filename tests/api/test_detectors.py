"""Audit detectors (SPEC §11), each exactly at its threshold and one below, on a fixed clock (freezegun)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from config import parse_business_hours
from tests.conftest import bearer, make_token, run_sql
from tests.stack import wait_for

MONDAY = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)  # a Monday; Europe/Berlin is UTC+1 then
JOB = {"name": "j", "cron_expression": "0 2 * * *", "endpoint_url": "http://127.0.0.1:9/hook"}


def _events(app, kind: str) -> list:
    return run_sql(app, "SELECT subject, user_id, token_id, ip_address, details FROM security_events "
                        "WHERE kind = :k ORDER BY id", k=kind)


def _from(ip: str) -> dict:
    return {"REMOTE_ADDR": ip}


# ---- auth.failed_burst ----------------------------------------------------------------------------------------

def test_failed_burst_fires_at_the_tenth_failure_within_five_minutes(app, client, admin):
    ip = "203.0.113.9"
    with freeze_time(MONDAY) as clock:
        client.get("/api/v1/auth/me", headers=bearer("tasker_" + "x" * 40), environ_base=_from(ip))
        clock.tick(1)
        for i in range(8):  # refused credentials and bad passwords count together
            if i % 2:
                resp = client.get("/api/v1/auth/me", headers=bearer(f"not-a-token-{i}"), environ_base=_from(ip))
            else:
                resp = client.post("/api/v1/auth/login", json={"email": admin.email, "password": f"wrong {i}"},
                                   environ_base=_from(ip))
            assert resp.status_code == 401
        clock.move_to(MONDAY + timedelta(seconds=300))  # the first failure is now exactly 5 min old: out
        client.get("/api/v1/auth/me", headers=bearer("tasker_" + "y" * 40), environ_base=_from(ip))
        assert _events(app, "auth.failed_burst") == []  # nine in the window
        client.get("/api/v1/auth/me", headers=bearer("tasker_" + "z" * 40), environ_base=_from(ip))
        [event] = _events(app, "auth.failed_burst")  # ten
        assert event[0] == f"ip:{ip}" and event[3] == ip and event[4]["failures"] == 10
        for _ in range(5):  # once per subject per window
            client.get("/api/v1/auth/me", headers=bearer("tasker_" + "w" * 40), environ_base=_from(ip))
        client.get("/api/v1/auth/me", headers=bearer("tasker_" + "w" * 40), environ_base=_from("203.0.113.10"))
        assert len(_events(app, "auth.failed_burst")) == 1
    notes = wait_for(lambda: run_sql(app, "SELECT title FROM notifications WHERE user_id = :u", u=admin.id), 10,
                     message="the admin alerted")
    assert [n[0] for n in notes] == ["Security: auth.failed burst"]


def test_failed_burst_fires_at_the_fifth_account_from_one_ip(app, client, admin):
    ip = "198.51.100.23"
    with freeze_time(MONDAY):
        for n in range(4):
            client.post("/api/v1/auth/login", json={"email": f"guess{n}@example.com", "password": "nope nope"},
                        environ_base=_from(ip))
        client.post("/api/v1/auth/login", json={"email": "guess0@example.com", "password": "again no"},
                    environ_base=_from(ip))
        assert _events(app, "auth.failed_burst") == []  # five failures, four accounts
        client.post("/api/v1/auth/login", json={"email": admin.email, "password": "nope nope"}, environ_base=_from(ip))
        [event] = _events(app, "auth.failed_burst")
        assert (event[4]["failures"], event[4]["accounts"]) == (6, 5)


# ---- token.new_ip ---------------------------------------------------------------------------------------------

def test_new_ip_is_silent_for_a_token_alternating_between_two_known_networks(app, client, owner):
    token = make_token(client, owner, ["read"])
    run_sql(app, "TRUNCATE audit_logs")
    with freeze_time(MONDAY) as clock:
        def use(ip: str) -> None:
            clock.tick(60)
            assert client.get("/api/v1/auth/me", headers=bearer(token), environ_base=_from(ip)).status_code == 200

        use("10.1.2.3")  # the first use teaches the network
        use("10.1.2.200")  # same /24
        assert _events(app, "token.new_ip") == []
        use("10.9.9.9")
        [event] = _events(app, "token.new_ip")
        assert event[4]["network"] == "10.9.9.0/24" and event[3] == "10.9.9.9"
        for _ in range(4):  # the old detector raised an event on every one of these switches
            use("10.1.2.3")
            use("10.9.9.77")
        assert len(_events(app, "token.new_ip")) == 1
        use("2001:db8:1:2::5")
        use("2001:db8:1:2:ffff::1")  # same /64
        assert [e[4]["network"] for e in _events(app, "token.new_ip")] == ["10.9.9.0/24", "2001:db8:1:2::/64"]


def test_new_ip_forgets_a_network_after_thirty_days_not_one_second_earlier(app, client, owner):
    token = make_token(client, owner, ["read"])
    run_sql(app, "TRUNCATE audit_logs")
    with freeze_time(MONDAY) as clock:
        client.get("/api/v1/auth/me", headers=bearer(token), environ_base=_from("10.1.2.3"))
        clock.tick(1)
        client.get("/api/v1/auth/me", headers=bearer(token), environ_base=_from("172.16.5.5"))
        assert len(_events(app, "token.new_ip")) == 1
        clock.move_to(MONDAY + timedelta(days=30, seconds=1))  # 172.16.5.0/24 seen exactly 30 days ago
        client.get("/api/v1/auth/me", headers=bearer(token), environ_base=_from("172.16.5.9"))
        assert len(_events(app, "token.new_ip")) == 1
        client.get("/api/v1/auth/me", headers=bearer(token), environ_base=_from("10.1.2.3"))  # 30 d + 1 s ago
        assert [e[4]["network"] for e in _events(app, "token.new_ip")] == ["172.16.5.0/24", "10.1.2.0/24"]


def test_new_ip_watches_an_account_signing_in_from_a_new_network(app, client, owner):
    with freeze_time(MONDAY) as clock:
        for ip in ("192.0.2.10", "192.0.2.99", "198.51.100.7"):
            clock.tick(60)
            assert client.post("/api/v1/auth/login", json={"email": owner.email, "password": "correct horse battery"},
                               environ_base=_from(ip)).status_code == 200
        # failed attempts from elsewhere do not make a network "seen" for the account
        client.post("/api/v1/auth/login", json={"email": owner.email, "password": "wrong"},
                    environ_base=_from("203.0.113.5"))
        client.post("/api/v1/auth/login", json={"email": owner.email, "password": "correct horse battery"},
                    environ_base=_from("203.0.113.5"))
    assert [(e[0], e[1], e[2]) for e in _events(app, "token.new_ip")] == [
        (f"user:{owner.id}:198.51.100.0/24", owner.id, None), (f"user:{owner.id}:203.0.113.0/24", owner.id, None)]


# ---- cron.bulk_delete -----------------------------------------------------------------------------------------

def test_bulk_delete_fires_at_the_tenth_job_by_any_mix_of_deletes(app, client, owner):
    token = make_token(client, owner, ["read", "write", "delete"])
    ids = [client.post("/api/v1/cron", json={**JOB, "name": f"j{n}"}, headers=bearer(token)).get_json()["id"]
           for n in range(11)]
    with freeze_time(MONDAY) as clock:
        for job_id in ids[:4]:
            assert client.delete(f"/api/v1/cron/{job_id}", headers=bearer(token)).status_code == 204
            clock.tick(10)
        resp = client.post("/api/v1/cron/bulk-delete", json={"ids": ids[4:9]}, headers=bearer(token))
        assert resp.status_code == 200 and resp.get_json()["count"] == 5
        assert _events(app, "cron.bulk_delete") == []  # nine
        clock.move_to(MONDAY + timedelta(seconds=299))
        assert client.delete(f"/api/v1/cron/{ids[9]}", headers=bearer(token)).status_code == 204
        [event] = _events(app, "cron.bulk_delete")
        assert (event[0], event[4]["deleted"]) == (f"user:{owner.id}", 10)
        assert client.delete(f"/api/v1/cron/{ids[10]}", headers=bearer(token)).status_code == 204
        assert len(_events(app, "cron.bulk_delete")) == 1
    # the batch is one audited action listing its ids
    [(payload, changes)] = run_sql(app, "SELECT request_payload, changes FROM audit_logs "
                                        "WHERE action = 'cron.bulk_delete'")
    assert payload["body"]["ids"] == ids[4:9]
    assert [d["id"] for d in changes["deleted"]["old"]] == ids[4:9]


def test_bulk_delete_is_all_or_nothing(app, client, owner, outsider):
    mine = client.post("/api/v1/cron", json=JOB, headers=owner.headers).get_json()["id"]
    theirs = client.post("/api/v1/cron", json=JOB, headers=outsider.headers).get_json()["id"]
    resp = client.post("/api/v1/cron/bulk-delete", json={"ids": [mine, theirs]}, headers=owner.headers)
    assert resp.status_code == 404
    assert run_sql(app, "SELECT count(*) FROM cron_jobs")[0][0] == 2
    assert client.post("/api/v1/cron/bulk-delete", json={"ids": []}, headers=owner.headers).status_code == 422


# ---- activity.off_hours ---------------------------------------------------------------------------------------

@pytest.fixture
def office_hours(app):
    saved = app.config["BUSINESS_HOURS"]
    app.config["BUSINESS_HOURS"] = parse_business_hours("Mon-Fri 07:00-20:00")
    yield
    app.config["BUSINESS_HOURS"] = saved


@pytest.mark.parametrize(("local", "fires"), [
    ("2027-03-01 19:59:59", False),  # Monday, last second of the day's business hours (Berlin)
    ("2027-03-01 20:00:00", True),
    ("2027-03-02 06:59:59", True),
    ("2027-03-02 07:00:00", False),
    ("2027-03-06 12:00:00", True),  # Saturday
])
def test_off_hours_uses_the_acting_users_timezone(app, client, owner, office_hours, local, fires):
    run_sql(app, "UPDATE users SET timezone = 'Europe/Berlin' WHERE id = :i", i=owner.id)
    token = make_token(client, owner, ["read", "write"])
    run_sql(app, "TRUNCATE security_events")
    at = datetime.fromisoformat(local).replace(tzinfo=UTC) - timedelta(hours=1)  # CET -> UTC
    with freeze_time(at):
        assert client.get("/api/v1/cron", headers=bearer(token)).status_code == 200  # a read never counts
        assert _events(app, "activity.off_hours") == []
        assert client.post("/api/v1/cron", json=JOB, headers=bearer(token)).status_code == 201
        events = _events(app, "activity.off_hours")
        assert len(events) == (1 if fires else 0)
        if fires:
            assert events[0][4]["timezone"] == "Europe/Berlin" and events[0][1] == owner.id
