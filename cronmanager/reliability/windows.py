"""The windows health is reported over, aligned to the rollups' hours."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from cronmanager.execution.rollups import hour_of


class Window(enum.StrEnum):
    DAY = "24h"
    WEEK = "7d"
    MONTH = "30d"

    @property
    def span(self) -> timedelta:
        return {Window.DAY: timedelta(hours=24), Window.WEEK: timedelta(days=7),
                Window.MONTH: timedelta(days=30)}[self]

    def start(self, now: datetime) -> datetime:
        """The first hour of the window: the current hour and the whole hours before it, `span` in all, so the
        expected slots and the rollups cover exactly the same time."""
        return hour_of(now) - self.span + timedelta(hours=1)


# the rollups are read back this far at most (the longest window, and a day for the hours it starts in)
ROLLUPS_KEPT = max(w.span for w in Window) + timedelta(days=1)
