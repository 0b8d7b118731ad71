"""Unbound extensions; create_app binds them so importing the package has no side effects."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, ClassVar, cast

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from redis import Redis
from sqlalchemy import CursorResult, Table, UpdateBase
from sqlalchemy.orm import DeclarativeBase
from werkzeug.local import LocalProxy

from cronmanager.lib.redis_keys import RedisKeys


class Base(DeclarativeBase):
    if TYPE_CHECKING:  # every model maps one Table (never a join or a select), so say so to the type checker
        __table__: ClassVar[Table]


def credential_key() -> str:
    """One rate-limit bucket per presented credential, else per client address."""
    auth = request.headers.get("Authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else request.args.get("token", "")
    if token:
        return "tok:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    from flask_login import current_user

    if current_user and current_user.is_authenticated:  # dashboard sessions: per user, not per shared NAT address
        return f"user:{current_user.id}"
    return "ip:" + (get_remote_address() or "unknown")


db = SQLAlchemy(model_class=Base)
if TYPE_CHECKING:  # db.Model is built from Base at run time; the type checker sees it as Base
    Model = Base
else:
    Model = db.Model
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(credential_key, headers_enabled=True, strategy="moving-window")


def dml_rowcount(stmt: UpdateBase) -> int:
    """Run an INSERT, UPDATE or DELETE in the app's session; the number of rows it matched. (SQLAlchemy types
    `Session.execute`'s answer as a plain Result; for these statements it is always a CursorResult.)"""
    return cast("CursorResult[Any]", db.session.execute(stmt)).rowcount


def current_app_object() -> Flask:
    """The app behind the `current_app` proxy, for a thread or a callback that outlives the app context."""
    return cast("LocalProxy[Flask]", current_app)._get_current_object()  # Flask types the proxy as Flask itself


def redis_client() -> Redis:
    """The app's shared Redis connection (opened lazily by create_app)."""
    return current_app.extensions["redis"]


def keys() -> RedisKeys:
    """The app's Redis key names, under its REDIS_PREFIX, so test runs and deployments sharing a server never
    collide."""
    return RedisKeys(current_app.config["REDIS_PREFIX"])
