"""Request and response models of user administration (SPEC §6)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypedDict

from pydantic import BaseModel, Field

from cronmanager.api.openapi import QueryModel, StrictModel

RoleName = Literal["ADMIN", "USER", "READ_ONLY"]


class UserCreateIn(StrictModel):
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    password: str = Field(min_length=8, max_length=1024)
    role: RoleName = "USER"
    timezone: str = Field(default="UTC", max_length=64)


class UserPatchIn(StrictModel):
    role: RoleName | None = None
    is_active: bool | None = None


class UserListQuery(QueryModel):
    q: str | None = Field(default=None, max_length=254, description="part of the e-mail")
    role: RoleName | None = None
    is_active: bool | None = None
    page: int = Field(default=1, ge=1, le=100000)
    per_page: int = Field(default=50, ge=1, le=500)


class UserAdminOut(BaseModel):
    id: str
    email: str
    role: str
    timezone: str
    is_active: bool
    created_at: datetime
    updated_at: datetime
    last_sign_in_at: datetime | None
    active_tokens: int
    jobs: int
    two_factor: bool
    sso: bool


class UserAdminJson(TypedDict):
    """A user as the admin API answers it (`users.service.UserRow.as_json`); UserAdminOut documents it."""

    id: str
    email: str
    role: str
    timezone: str
    is_active: bool
    created_at: datetime
    updated_at: datetime
    last_sign_in_at: datetime | None
    active_tokens: int
    jobs: int
    two_factor: bool
    sso: bool


class UserAdminList(BaseModel):
    items: list[UserAdminOut]
    total: int
    page: int
    per_page: int
