"""/metrics in Prometheus text format (SPEC §14)."""

from __future__ import annotations

from flask import Blueprint

metrics_bp = Blueprint("metrics", __name__)
