"""Writes AuditLog rows into the caller's transaction, so the record and the change commit together."""

from __future__ import annotations

import json
import time
from typing import Any, cast

from flask import current_app, g, has_app_context, has_request_context, request
from flask_login import current_user
from redis.exceptions import RedisError
from werkzeug.exceptions import RequestEntityTooLarge

from cronmanager.audit.networks import network_of
from cronmanager.audit.redaction import redact
from cronmanager.extensions import db, keys, redis_client
from cronmanager.lib.json_depth import too_deep
from cronmanager.models import AuditLog


def client_ip() -> str | None:
    return request.remote_addr if has_request_context() else None


def record(action: str, *, status: int | None = None, resource_type: str | None = None,
           resource_id: str | None = None, payload: object = None, user_id: str | None = None,
           token_id: str | None = None, changes: dict | None = None) -> AuditLog:
    """Add (not commit) one audit row; request facts are filled in when there is a request.

    `changes` are before/after values ({field: {"old", "new"}}, secrets masked); by default those the request
    noted with cronmanager.audit.changes.note().
    """
    entry = AuditLog(
        action=action[:64], resource_type=_cut(resource_type, 32), resource_id=_cut(resource_id, 64),
        response_status=status, user_id=user_id, token_id=token_id,
        request_payload=capped(redact(payload)) if payload is not None else None,
    )
    if has_request_context():
        entry.ip_address = client_ip()
        entry.ip_network = network_of(entry.ip_address)
        if changes is None and (status is None or status < 400):
            changes = g.pop("audit_changes", None)
        entry.user_agent = (request.user_agent.string or "")[:512] or None
        entry.method = request.method[:8]
        entry.path = request.path[:512]
        p = g.get("principal")
        if p is not None:
            entry.user_id = entry.user_id or p.user_id
            entry.token_id = entry.token_id or p.token_id
            entry.team_id = p.team_id  # a service account's calls name its team
        elif entry.user_id is None and current_user and current_user.is_authenticated:
            entry.user_id = current_user.id  # a dashboard page: the signed-in user
    entry.changes = capped_changes(changes) if changes is not None else None
    db.session.add(entry)
    return entry


def record_refused(action: str, *, payload: dict[str, Any] | None = None, user_id: str | None = None,
                   **kwargs: Any) -> AuditLog | None:
    """A refused request (429) is audited once per address, account, action and AUDIT_REFUSED_WINDOW_S window: the
    first adds a row, later ones count into it (`"refused": n`), so a flood grows a counter, not the trail.
    Without Redis every refusal gets its own row: better a long trail than a silent one."""
    window = current_app.config["AUDIT_REFUSED_WINDOW_S"]
    key = keys().refused_audit(action, client_ip() or "unknown", user_id, int(time.time() // window))
    payload = {**(payload or {}), "refused": 1}
    try:
        pipe = redis_client().pipeline()
        pipe.incr(key)
        pipe.expire(key, window * 2)
        pipe.get(f"{key}:row")
        count, _, row_id = pipe.execute()
    except RedisError:
        return record(action, payload=payload, user_id=user_id, **kwargs)
    if count == 1:
        entry = record(action, payload=payload, user_id=user_id, **kwargs)
        db.session.flush()
        try:
            redis_client().set(f"{key}:row", entry.id, ex=window * 2)
        except RedisError:
            pass
        return entry
    first = db.session.get(AuditLog, int(row_id)) if row_id is not None else None
    if first is not None:  # None while the first refusal's transaction is still open: a later one catches up
        first.request_payload = {**(first.request_payload or {}), "refused": count}
    return None


def _cut(value: str | None, size: int) -> str | None:
    return value[:size] if value is not None else None


def _limit() -> int:
    return current_app.config.get("AUDIT_PAYLOAD_MAX_BYTES", 8192) if has_app_context() else 8192


def _truncated(text: str, size: int, keep: int, value: object) -> dict[str, Any]:
    marker: dict[str, Any] = {"truncated": True, "original_bytes": size,
                              "preview": text.encode()[:max(keep, 0)].decode(errors="ignore")}
    if isinstance(value, list):
        marker["items"] = len(value)  # a batch's size survives the cut (cronmanager.audit.detectors counts it)
    return marker


def capped(payload: Any) -> Any:
    """Stored payloads are at most AUDIT_PAYLOAD_MAX_BYTES (8 KiB) of JSON: a bigger one keeps a prefix of its text
    and says it was truncated, so a flood of large requests cannot grow the audit log without bound."""
    limit = _limit()
    text = json.dumps(payload, default=str, separators=(",", ":"))
    size = len(text.encode())
    return payload if size <= limit else _truncated(text, size, limit - 200, payload)


def capped_changes(changes: dict[str, Any]) -> Any:
    """Changes are capped like payloads, value by value first, so the {field: {"old", "new"}} shape survives a
    huge header set or a 500-job batch; only when even that is too big is the whole replaced."""
    limit = _limit()
    if len(json.dumps(changes, default=str, separators=(",", ":")).encode()) <= limit:
        return changes
    per_value = max(limit // 16, 128)
    out: dict[str, Any] = {}
    for field, change in changes.items():
        if isinstance(change, dict):
            out[field] = {side: _capped_value(value, per_value) for side, value in change.items()}
        else:
            out[field] = _capped_value(change, per_value)
    return capped(out)


def _capped_value(value: object, limit: int) -> object:
    text = json.dumps(value, default=str, separators=(",", ":"))
    size = len(text.encode())
    return value if size <= limit else _truncated(text, size, limit // 2, value)


def request_payload() -> dict | None:
    """Body and query of the current request, secrets removed."""
    payload: dict = {}
    try:
        body = _json_body()
    except RequestEntityTooLarge:  # refused unread (MAX_CONTENT_LENGTH); only its size is worth recording
        body = {"truncated": True, "original_bytes": request.content_length}
    except Exception:  # whatever a client sends, its request is audited; the body is noted as unreadable
        body = {"unparsable": True, "original_bytes": request.content_length}
    if body is not None:
        payload["body"] = body
    args = {k: v for k, v in request.args.items() if k != "token"}
    if args:
        payload["query"] = args
    return cast(dict, redact(payload)) if payload else None  # redact keeps a dict a dict


def _json_body() -> object:
    if not request.is_json:
        return None
    if too_deep(request.get_data(cache=True), current_app.config["JSON_MAX_DEPTH"]):
        return {"unparsable": True, "original_bytes": request.content_length, "reason": "nested too deeply"}
    return request.get_json(silent=True)
