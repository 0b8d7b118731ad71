"""/api/v1/openapi.json describes the whole API, and the API keeps to it under fuzzing (schemathesis 4)."""

from __future__ import annotations

import pytest

from tests.helpers import schemathesis_run, served

SKIP_ENDPOINT_PREFIXES = ("openapi",)  # spectree's own spec and doc pages


def _flask_to_openapi(rule: str) -> str:
    import re

    return re.sub(r"<(?:[^:<>]+:)?([a-z_]+)>", r"{\1}", rule)


def test_it_serves_openapi_3_1_listing_every_api_route(app, client):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    doc = resp.get_json()
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    expected = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith(SKIP_ENDPOINT_PREFIXES):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            expected.add((_flask_to_openapi(rule.rule), method))
    undocumented_streams = {("/api/v1/events", "GET")}  # SSE, not described by spectree yet (reported)
    assert expected - documented - undocumented_streams == set()
    assert documented - expected == set()
    assert len(documented) >= 20


def test_it_documents_public_routes_without_security(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/auth/refresh"):
        assert paths[path]["post"]["security"] == []
    assert "security" not in paths["/api/v1/cron"]["get"]  # inherits the global bearer requirement


def test_it_serves_the_spec_without_credentials_and_as_json(client):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"


# ---- the whole API under schemathesis, as from outside ----------------------------------------------------------

@pytest.mark.slow
def test_it_keeps_to_its_document_under_every_check_and_phase(app, admin, tmp_path):
    """`schemathesis run <base>/api/v1/openapi.json -c all --phases examples,coverage,fuzzing,stateful` with an
    admin's token against the app on a real socket: 0 failures. schemathesis.toml (repo root) holds the one
    rule no schema can state. Bounded: deterministic generation, 5 examples per operation, 2 workers (about
    2.5 minutes on this shared 2-core machine, so marked slow)."""
    with served(app) as base:
        result = schemathesis_run(base, admin.access, tmp_path, "--max-examples", "5", "--workers", "2",
                                  "--generation-deterministic")
    summary = result.stdout[-8000:]
    assert result.returncode == 0, summary
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in result.stdout, summary  # every phase ran and passed
