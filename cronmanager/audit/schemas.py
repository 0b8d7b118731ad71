from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypedDict

from pydantic import BaseModel, Field

from cronmanager.api.openapi import QueryModel


class AuditQuery(QueryModel):
    user: str | None = Field(default=None, max_length=254, description="user id or e-mail")
    action: str | None = Field(default=None, max_length=64, description="exact action, or a prefix ending in '.'")
    resource: str | None = Field(default=None, max_length=100, description="type, or type:id")
    token_id: str | None = Field(default=None, max_length=36)
    status: int | None = Field(default=None, ge=100, le=599)
    date_from: datetime | None = Field(default=None, alias="from")
    date_to: datetime | None = Field(default=None, alias="to")
    page: int = Field(default=1, ge=1, le=100000)
    per_page: int = Field(default=50, ge=1, le=500)


class AuditOut(BaseModel):
    id: int
    timestamp: datetime
    user_id: str | None
    user_email: str | None
    token_id: str | None
    action: str
    resource_type: str | None
    resource_id: str | None
    ip_address: str | None
    user_agent: str | None
    method: str | None
    path: str | None
    request_payload: dict | None
    response_status: int | None
    changes: dict | None = None


class AuditJson(TypedDict):
    """An audit row as the API answers it (`audit.queries.audit_json`); AuditOut documents it."""

    id: int
    timestamp: datetime
    user_id: str | None
    user_email: str | None
    token_id: str | None
    action: str
    resource_type: str | None
    resource_id: str | None
    ip_address: str | None
    user_agent: str | None
    method: str | None
    path: str | None
    request_payload: dict[str, Any] | None
    response_status: int | None
    changes: dict[str, Any] | None


class AuditList(BaseModel):
    items: list[AuditOut]
    total: int
    page: int
    per_page: int


class SecurityEventQuery(QueryModel):
    kind: str | None = Field(default=None, max_length=48, description="exact kind, or a prefix ending in '.'")
    severity: Literal["info", "warning", "critical"] | None = None
    user_id: str | None = Field(default=None, max_length=36)
    reviewed: bool | None = None
    page: int = Field(default=1, ge=1, le=100000)
    per_page: int = Field(default=50, ge=1, le=500)


class SecurityEventOut(BaseModel):
    id: int
    kind: str
    severity: str
    message: str
    user_id: str | None
    token_id: str | None
    ip_address: str | None
    details: dict | None
    created_at: datetime
    reviewed_at: datetime | None
    reviewed_by: str | None


class SecurityEventJson(TypedDict):
    """A security event as the API answers it (`security_event_json`); SecurityEventOut documents it."""

    id: int
    kind: str
    severity: str
    message: str
    user_id: str | None
    token_id: str | None
    ip_address: str | None
    details: dict[str, Any] | None
    created_at: datetime
    reviewed_at: datetime | None
    reviewed_by: str | None


class ReportQuery(QueryModel):
    date_from: datetime = Field(alias="from")
    date_to: datetime = Field(alias="to")
    user_id: str | None = Field(default=None, max_length=36)
    format: Literal["json", "csv"] = "json"
    kind: Literal["changes", "access", "retention"] = Field(
        default="changes", description="changes (default), access (reads) or retention (what retention removed)")


class SecurityEventList(BaseModel):
    items: list[SecurityEventOut]
    total: int
    page: int
    per_page: int


class ReportChange(BaseModel):
    field: str
    old: Any
    new: Any


class ReportEntry(BaseModel):
    """One change in the compliance report's JSON (an array of these, streamed; documented, not validated)."""

    timestamp: datetime
    user_id: str | None
    user_email: str | None
    token_id: str | None
    ip_address: str | None
    action: str
    resource_type: str | None
    resource_id: str | None
    status: int | None
    changes: list[ReportChange]



class AccessEntry(BaseModel):
    """One read in the `access` report."""

    timestamp: datetime
    user_id: str | None
    user_email: str | None
    token_id: str | None
    ip_address: str | None
    action: str
    resource_type: str | None
    resource_id: str | None
    status: int | None


class RetentionEntry(BaseModel):
    """One table of one retention run in the `retention` report."""

    timestamp: datetime
    started_at: datetime
    table: str
    retention_days: int
    archived: int
    deleted: int
    archives_deleted: int
