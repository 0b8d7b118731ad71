"""GET /api/v1/events: Server-Sent Events from Redis pub/sub (SPEC §8)."""

from __future__ import annotations

from flask import Blueprint

events_api = Blueprint("events_api", __name__)
