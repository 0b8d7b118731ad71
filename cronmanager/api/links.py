"""OpenAPI links: which response supplies the id another operation needs, so clients and stateful fuzzers can
follow the API the way a user does (create a job, then read, change, run and delete it)."""

from __future__ import annotations

from typing import Any

_P = "/api/v1"
# (source path, method, status, pointer to the id in the body) -> every operation taking that id as `param`
_SOURCES: tuple[tuple[str, str, str, str, str, str], ...] = (
    (f"{_P}/cron", "post", "201", "/id", "job_id", f"{_P}/cron/{{job_id}}"),
    (f"{_P}/cron", "get", "200", "/items/0/id", "job_id", f"{_P}/cron/{{job_id}}"),
    (f"{_P}/alert-channels", "post", "201", "/id", "channel_id", f"{_P}/alert-channels/{{channel_id}}"),
    (f"{_P}/alert-channels", "get", "200", "/items/0/id", "channel_id", f"{_P}/alert-channels/{{channel_id}}"),
    (f"{_P}/auth/tokens", "post", "201", "/id", "token_id", f"{_P}/auth/tokens/{{token_id}}"),
    (f"{_P}/auth/tokens", "get", "200", "/items/0/id", "token_id", f"{_P}/auth/tokens/{{token_id}}"),
    (f"{_P}/notifications", "get", "200", "/items/0/id", "note_id", f"{_P}/notifications/{{note_id}}"),
    (f"{_P}/calendars", "post", "201", "/id", "calendar_id", f"{_P}/calendars/{{calendar_id}}"),
    (f"{_P}/calendars", "get", "200", "/items/0/id", "calendar_id", f"{_P}/calendars/{{calendar_id}}"),
)


def add_links(doc: dict[str, Any]) -> None:
    paths = doc["paths"]
    for path, method, status, pointer, param, prefix in _SOURCES:
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        links = response.setdefault("links", {})
        for target_path, operations in paths.items():
            if not target_path.startswith(prefix):
                continue
            for operation in operations.values():
                links[operation["operationId"].replace("{", "").replace("}", "")] = {
                    "operationId": operation["operationId"],
                    "parameters": {f"path.{param}": f"$response.body#{pointer}"},
                }
