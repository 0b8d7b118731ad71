"""Request and response models of the teams API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypedDict

from pydantic import BaseModel, Field

from cronmanager.api.formats import VISIBLE_PATTERN
from cronmanager.api.openapi import StrictModel

TeamRoleName = Literal["owner", "editor", "viewer"]


class TeamIn(StrictModel):
    name: str = Field(min_length=1, max_length=100, pattern=VISIBLE_PATTERN,
                      description="unique ignoring case; surrounding white space is removed")


class TeamOut(BaseModel):
    id: str
    name: str
    created_at: datetime
    role: TeamRoleName | None = Field(description="the caller's role in the team (null for an administrator "
                                                  "who is not a member)")
    members: int
    jobs: int


class TeamJson(TypedDict):
    """A team as the API answers it (`teams.service.TeamView.as_json`); TeamOut documents it."""

    id: str
    name: str
    created_at: datetime
    role: str | None
    members: int
    jobs: int


class TeamList(BaseModel):
    items: list[TeamOut]
    total: int
    page: int
    per_page: int


class MemberIn(StrictModel):
    role: TeamRoleName


class MemberOut(BaseModel):
    user_id: str
    email: str
    role: TeamRoleName


class MemberJson(TypedDict):
    """A team member as the API answers it (`teams.service.member_json`); MemberOut documents it."""

    user_id: str
    email: str
    role: str


class MemberList(BaseModel):
    items: list[MemberOut]
    total: int
    page: int
    per_page: int

