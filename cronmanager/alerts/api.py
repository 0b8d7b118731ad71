"""Alert channels and in-app notifications API (SPEC §13)."""

from __future__ import annotations

from flask import Blueprint

alerts_api = Blueprint("alerts_api", __name__)
