"""Stats API for the dashboard (SPEC §7, §14)."""

from __future__ import annotations

from flask import Blueprint

monitoring_api = Blueprint("monitoring_api", __name__)
