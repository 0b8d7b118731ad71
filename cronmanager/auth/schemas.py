"""Request and response models of the auth API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, NotRequired, TypedDict

from pydantic import BaseModel, Field

from cronmanager.api.formats import IpAllowlist, TimeZone
from cronmanager.api.openapi import StrictModel

Scope = Literal["read", "write", "delete", "execute", "admin"]


class RegisterIn(StrictModel):
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    password: str = Field(min_length=8, max_length=1024)
    timezone: TimeZone = "UTC"
    role: Literal["ADMIN", "USER", "READ_ONLY"] | None = None


class UserOut(BaseModel):
    id: str
    email: str
    role: str


class MeOut(UserOut):
    scopes: list[str]
    timezone: str
    two_factor: bool


class LoginIn(StrictModel):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)
    totp: str | None = Field(default=None, pattern=r"^[0-9]{6}$", description="6-digit code, when enrolled")
    recovery_code: str | None = Field(default=None, min_length=1, max_length=64)


class EnrollOut(BaseModel):
    secret: str
    otpauth_uri: str


class ConfirmIn(StrictModel):
    totp: str = Field(pattern=r"^[0-9]{6}$", description="the current 6-digit code of the new secret")


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str]


class DisableIn(StrictModel):
    password: str = Field(min_length=1, max_length=1024)
    totp: str = Field(min_length=1, max_length=64, description="a current code, or a recovery code")


class RefreshIn(StrictModel):
    refresh_token: str = Field(min_length=1, max_length=4096)


class LoginOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


class TokenIn(StrictModel):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(min_length=1)
    expires_at: datetime | None = Field(default=None, strict=False)
    ip_allowlist: IpAllowlist = Field(default_factory=list, max_length=50)


class TokenOut(BaseModel):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    expires_at: datetime | None
    created_at: datetime
    last_used_at: datetime | None
    last_used_ip: str | None
    ip_allowlist: list[str]
    is_active: bool
    revoked_at: datetime | None


class TokenCreatedOut(TokenOut):
    token: str


class TokenJson(TypedDict):
    """A token as the API answers it (`auth.token_service.token_json`): TokenOut, or TokenCreatedOut with `token`."""

    id: str
    name: str
    prefix: str
    scopes: list[str]
    expires_at: datetime | None
    created_at: datetime
    last_used_at: datetime | None
    last_used_ip: str | None
    ip_allowlist: list[str]
    is_active: bool
    revoked_at: datetime | None
    token: NotRequired[str]  # the raw token, once: when created or regenerated


class TokenList(BaseModel):
    items: list[TokenOut]
    total: int
    page: int
    per_page: int
