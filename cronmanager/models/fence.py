"""The scheduler's fence: the highest fencing token a leader has placed fires with (SPEC §22)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import Mapped, mapped_column

from cronmanager.extensions import Model


class SchedulerFence(Model):
    """One row (id 1). A placement carrying a lower token than this is refused by the statement itself."""

    __tablename__ = "scheduler_fence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    token: Mapped[int] = mapped_column(BigInteger)
