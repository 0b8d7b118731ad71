"""Request and response models of the alerts API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from cronmanager.api.openapi import PageQuery, StrictModel

Kind = Literal["email", "webhook"]


class ChannelConfig(StrictModel):
    format: Literal["json", "slack"] | None = None
    secret: str | None = Field(default=None, min_length=16, max_length=200)


class ChannelCreate(StrictModel):
    kind: Kind
    name: str = Field(default="", max_length=100)
    target: str = Field(min_length=3, max_length=2048)
    config: ChannelConfig | None = None
    is_global: bool = False


class ChannelUpdate(StrictModel):
    name: str | None = Field(default=None, max_length=100)
    target: str | None = Field(default=None, min_length=3, max_length=2048)
    config: ChannelConfig | None = None
    is_active: bool | None = None


class ChannelOut(BaseModel):
    id: str
    kind: str
    name: str
    target: str
    is_global: bool
    is_active: bool
    config: dict
    consecutive_errors: int
    last_error: str | None
    created_at: datetime


class ChannelList(BaseModel):
    items: list[ChannelOut]
    total: int


class TestOut(BaseModel):
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
