"""Writes AuditLog rows into the caller's transaction, so the record and the change commit together."""

from __future__ import annotations

import json

from flask import current_app, g, has_app_context, has_request_context, request
from werkzeug.exceptions import RequestEntityTooLarge

from cronmanager.audit.networks import network_of
from cronmanager.audit.redaction import redact
from cronmanager.extensions import db
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
        action=action, resource_type=resource_type, resource_id=resource_id, response_status=status,
        user_id=user_id, token_id=token_id, request_payload=capped(redact(payload)) if payload is not None else None,
        changes=changes,
    )
    if has_request_context():
        entry.ip_address = client_ip()
        entry.ip_network = network_of(entry.ip_address)
        if entry.changes is None and (status is None or status < 400):
            entry.changes = g.pop("audit_changes", None)
        entry.user_agent = (request.user_agent.string or "")[:512] or None
        entry.method = request.method
        entry.path = request.path[:512]
        p = g.get("principal")
        if p is not None:
            entry.user_id = entry.user_id or p.user.id
            entry.token_id = entry.token_id or p.token_id
    db.session.add(entry)
    return entry


def capped(payload: object) -> object:
    """Stored payloads are at most AUDIT_PAYLOAD_MAX_BYTES (8 KiB) of JSON: a bigger one keeps a prefix of its text
    and says it was truncated, so a flood of large requests cannot grow the audit log without bound."""
    limit = current_app.config.get("AUDIT_PAYLOAD_MAX_BYTES", 8192) if has_app_context() else 8192
    text = json.dumps(payload, default=str, separators=(",", ":"))
    size = len(text.encode())
    if size <= limit:
        return payload
    preview = text.encode()[: max(limit - 200, 0)].decode(errors="ignore")
    return {"truncated": True, "original_bytes": size, "preview": preview}


def request_payload() -> dict | None:
    """Body and query of the current request, secrets removed."""
    payload: dict = {}
    try:
        body = request.get_json(silent=True) if request.is_json else None
    except RequestEntityTooLarge:  # refused unread (MAX_CONTENT_LENGTH); only its size is worth recording
        body = {"truncated": True, "original_bytes": request.content_length}
    if body is not None:
        payload["body"] = body
    args = {k: v for k, v in request.args.items() if k != "token"}
    if args:
        payload["query"] = args
    return redact(payload) if payload else None
