"""Response assertions on real processes: a failing assertion fails the fire, is retried, and shows in the run."""

from __future__ import annotations

import pytest

from tests.helpers import create, executions, signed_in
from tests.stack import wait_for

pytestmark = pytest.mark.slow


def test_a_failing_assertion_fails_the_fire_and_is_retried(app, client, owner, target, stack):
    stack.worker()
    stack.scheduler()
    checks = [{"type": "status_in", "values": [200]}, {"type": "json_path", "path": "$.ok", "equals": False}]
    failing = create(client, owner, cron_expression="0 0 1 1 *", endpoint_url=f"{target.url}/ok", retry_count=1,
                     assertions=checks)
    passing = create(client, owner, cron_expression="0 0 1 1 *", endpoint_url=f"{target.url}/ok",
                     assertions=[{"type": "json_path", "path": "$.ok", "equals": True}])
    for job in (failing, passing):
        assert client.post(f"/api/v1/cron/{job['id']}/execute", headers=owner.headers).status_code == 202
    rows = wait_for(lambda: [r for r in executions(app, failing["id"]) if r.status == "FAILED"][1:] and
                    executions(app, failing["id"]), 30, message="the attempt and its retry, both failed")
    assert [(r.attempt_number, r.status, r.error_class) for r in rows] == [(1, "FAILED", "assertion"),
                                                                           (2, "FAILED", "assertion")]
    assert rows[0].error_message == "assertion 2 (json_path $.ok equals false): got true"
    assert rows[0].response_status == 200 and rows[1].trigger == "retry"
    ok = wait_for(lambda: executions(app, passing["id"], status="SUCCESS"), 30, message="the passing job's run")
    assert ok[0].error_class is None
    page = signed_in(app, owner).get(f"/jobs/{failing['id']}/executions/{rows[0].id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "data-assertion-failure" in html and "json_path $.ok equals false" in html
