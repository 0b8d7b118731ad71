"""Request and response models of the alerts API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from cronmanager.api import formats
from cronmanager.api.openapi import PageQuery, StrictModel

Kind = Literal["email", "webhook"]


class ChannelConfig(StrictModel):
    format: Literal["json", "slack"] | None = None
    secret: str | None = Field(default=None, min_length=16, max_length=200)


def _target_by_kind(schema: dict[str, Any]) -> None:
    """The document says what the validator checks: the target's form depends on the kind."""
    schema["anyOf"] = [
        {"required": ["kind"], "properties": {"kind": {"const": kind}, "target": {"anyOf": [form, {"type": "null"}]}}}
        for kind, form in (("email", formats.EMAIL_SCHEMA), ("webhook", formats.URL_SCHEMA))
    ]


def _check_target_form(kind: str | None, target: str | None) -> None:
    if target is None or kind is None:
        return
    if kind == "email" and not formats.EMAIL_MATCH(target):
        raise PydanticCustomError("invalid", "not an e-mail address (one address, such as ops@example.com)")
    if kind == "webhook" and not formats.URL_MATCH(target):
        raise PydanticCustomError("invalid", "must be an http(s) URL such as https://example.com/hook")


class ChannelCreate(StrictModel):
    model_config = ConfigDict(json_schema_extra=_target_by_kind)

    kind: Kind
    name: str = Field(default="", max_length=100)
    target: str = Field(min_length=3, max_length=2048)
    config: ChannelConfig | None = None
    is_global: bool = False
    team_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
                                description="the team that owns the channel (its owners and editors manage it)")

    @field_validator("target")
    @classmethod
    def _target_form(cls, target: str, info: ValidationInfo) -> str:
        _check_target_form(info.data.get("kind"), target)
        return target


def _target_needs_kind(schema: dict[str, Any]) -> None:
    _target_by_kind(schema)
    schema["anyOf"].append({"properties": {"kind": {"type": "null"}, "target": {"type": "null"}}})


class ChannelUpdate(StrictModel):
    """`kind` cannot change: it is there so a new `target` can be checked (409 if it is not the channel's)."""

    model_config = ConfigDict(json_schema_extra=_target_needs_kind)

    name: str | None = Field(default=None, max_length=100)
    kind: Kind | None = None
    target: str | None = Field(default=None, min_length=3, max_length=2048)
    config: ChannelConfig | None = None
    is_active: bool | None = None

    @field_validator("target")
    @classmethod
    def _target_form(cls, target: str | None, info: ValidationInfo) -> str | None:
        if target is not None and info.data.get("kind") is None:
            raise PydanticCustomError("invalid", "give the channel's kind with a new target")
        _check_target_form(info.data.get("kind"), target)
        return target


class ChannelOut(BaseModel):
    id: str
    kind: str
    name: str
    target: str
    is_global: bool
    team_id: str | None = None
    is_active: bool
    config: dict
    consecutive_errors: int
    last_error: str | None
    created_at: datetime


class ChannelJson(TypedDict):
    """An alert channel as the API answers it (`alerts.api.channel_json`); ChannelOut documents it."""

    id: str
    kind: str
    name: str
    target: str
    is_global: bool
    team_id: str | None
    is_active: bool
    config: dict[str, Any]
    consecutive_errors: int
    last_error: str | None
    created_at: datetime


class ChannelList(BaseModel):
    items: list[ChannelOut]
    total: int


class ChannelTestOut(BaseModel):
    ok: bool
    error: str | None
    delivery_id: int


class DeliveryOut(BaseModel):
    id: int
    channel_id: str | None
    kind: str
    event: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class DeliveryList(BaseModel):
    items: list[DeliveryOut]
    total: int
    page: int
    per_page: int


class NotificationQuery(PageQuery):
    unread: bool | None = None


class NotificationOut(BaseModel):
    id: int
    kind: str
    title: str
    body: str
    cron_job_id: str | None
    created_at: datetime
    read_at: datetime | None


class NotificationJson(TypedDict):
    """A notification as the API answers it (`alerts.api.note_json`); NotificationOut documents it."""

    id: int
    kind: str
    title: str
    body: str
    cron_job_id: str | None
    created_at: datetime
    read_at: datetime | None


class NotificationList(BaseModel):
    items: list[NotificationOut]
    total: int
    page: int
    per_page: int
    unread: int


class UnreadOut(BaseModel):
    unread: int


class MarkedOut(BaseModel):
    marked: int
