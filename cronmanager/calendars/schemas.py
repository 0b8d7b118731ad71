"""Request and response models of the calendars API (SPEC §21)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, TypedDict

from pydantic import BaseModel, Field

from cronmanager.api.formats import TimeZone
from cronmanager.api.openapi import StrictModel
from cronmanager.scheduling.calendar_spec import MAX_BLACKOUTS, MAX_HOLIDAYS, MAX_ICS_BYTES, MAX_WINDOWS

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
HolidayDate = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")]
Clock = Annotated[str, Field(pattern=r"^\d{2}:\d{2}$", description="HH:MM local time; an end may be 24:00")]
CalendarName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"\S")]


class WindowIn(StrictModel):
    days: str = Field(min_length=1, max_length=60, description="Mon-Fri, Sat,Sun, Mon-Wed,Fri; a range may wrap")
    start: Clock
    end: Clock


class BlackoutIn(StrictModel):
    start: str = Field(min_length=1, max_length=40, description="ISO 8601; without an offset: the calendar's zone")
    end: str = Field(min_length=1, max_length=40)


class CalendarFields(StrictModel):
    timezone: TimeZone | None = None
    holidays: list[HolidayDate] | None = Field(default=None, max_length=MAX_HOLIDAYS)
    country: str | None = Field(default=None, pattern=r"^(?:[A-Za-z]{2,3})?$",
                                description="public holidays of this country (ISO 3166-1, `holidays` package)")
    subdivision: str | None = Field(default=None, pattern=r"^(?:[A-Za-z0-9]{1,10})?$",
                                    description="and of this subdivision (e.g. BY for Bavaria)")
    ics: str | None = Field(default=None, max_length=MAX_ICS_BYTES,
                            description="RFC 5545 text: all-day events are holidays, timed events blackouts; "
                                        "recurring events are expanded")
    windows: list[WindowIn] | None = Field(default=None, max_length=MAX_WINDOWS,
                                           description="when given, only these local times are allowed")
    blackouts: list[BlackoutIn] | None = Field(default=None, max_length=MAX_BLACKOUTS)


class CalendarCreate(CalendarFields):
    name: CalendarName
    team_id: str | None = Field(default=None, pattern=UUID_PATTERN,
                                description="the team that owns it (its owners and editors manage it, members read)")
    is_global: bool = Field(default=False, description="every user may use it; administrators only")


class CalendarUpdate(CalendarFields):
    """Replaces the fields given; null or absent keeps a field (an empty list clears a list; \"\" clears country,
    subdivision and ics)."""

    name: CalendarName | None = None


class CalendarOut(BaseModel):
    id: str
    name: str
    timezone: str
    holidays: list[str]
    country: str | None
    subdivision: str | None
    ics: str | None
    windows: list[dict[str, str]]
    blackouts: list[dict[str, str]]
    owner_id: str | None
    team_id: str | None
    is_global: bool
    version: int
    created_at: datetime
    updated_at: datetime
    can_manage: bool = Field(description="whether the caller may change or delete it")


class CalendarList(BaseModel):
    items: list[CalendarOut]
    total: int


class CalendarJson(TypedDict):
    """A calendar as the API answers it (`calendars.service.calendar_json`); CalendarOut documents it."""

    id: str
    name: str
    timezone: str
    holidays: list[str]
    country: str | None
    subdivision: str | None
    ics: str | None
    windows: list[dict[str, str]]  # WindowJson, as stored
    blackouts: list[dict[str, str]]  # BlackoutJson, as stored
    owner_id: str | None
    team_id: str | None
    is_global: bool
    version: int
    created_at: datetime
    updated_at: datetime
    can_manage: bool
