"""Sealing a job's secrets on every write and opening them for the request (the only two ways in and out)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from cronmanager.errors import ApiError
from cronmanager.models import CronJob
from cronmanager.secrets import fields
from cronmanager.secrets.keyring import keyring
from cronmanager.secrets.names import MASK

Secrets = dict[str, str | list[str]]


def _open(token: str | None) -> Secrets:
    return json.loads(keyring().decrypt(token.encode())) if token else {}


def opened(job: CronJob | None) -> Secrets:
    """The stored secrets of a job (path -> value); empty when it has none."""
    return _open(job.sealed_secrets) if job is not None else {}


def changed(sealed: dict[str, Any], stored: CronJob | None) -> list[str]:
    """The paths whose value an output of `seal` sets differently from `stored` (a plan shows them as changed)."""
    new, old = _open(sealed.get("sealed_secrets")), opened(stored)
    return sorted(path for path in {*new, *old} if new.get(path) != old.get(path))


def seal_text(secrets: Secrets) -> str | None:
    return keyring().encrypt(json.dumps(secrets, sort_keys=True).encode()).decode() if secrets else None


def seal(values: dict[str, Any], stored: CronJob | None) -> dict[str, Any]:
    """`values` (a create, an update or a clone, already validated) with secrets masked and sealed.

    `stored` is the job being changed, or the job being cloned: `***` keeps its value. The secrets of `stored`
    that this change does not touch stay too. When the destination (scheme, host, port) changes, every secret
    that would be kept must be sent again instead: 422 naming each field, so a secret never follows a job to a
    new place.
    """
    split = fields.split(values.get("headers"), values.get("query_params"), values.get("endpoint_url"))
    previous = opened(stored)
    result: Secrets = {}
    kept: list[str] = []
    unknown: list[str] = []
    for path, value in split.found.items():
        if fields.is_kept(value):
            old = fields.lookup(previous, path)
            if old is None:
                unknown.append(path)
                continue
            kept.append(path)
            result[path] = old
        else:
            result[path] = value
    untouched = {"headers": split.headers is None, "query_params": split.query_params is None,
                 "endpoint_url": split.endpoint_url is None}
    for path, value in previous.items():
        if untouched[path.split(".", 1)[0]]:
            kept.append(path)
            result[path] = value
    if unknown:  # a conflict with what is stored (nothing), not a malformed request
        raise ApiError(409, "`***` keeps a stored secret, and there is none for: " + ", ".join(unknown),
                       fields={p: "no stored secret to keep: send the value" for p in unknown})
    if stored is not None and kept:
        new_url = values.get("endpoint_url") or stored.endpoint_url
        if fields.destination(new_url) != fields.destination(stored.endpoint_url):
            raise ApiError(422, "The destination changed: send these secrets again: " + ", ".join(sorted(kept)),
                           fields={p: "the destination (scheme, host or port) changed: send this secret again"
                                   for p in sorted(kept)})
    out = dict(values)
    for name in ("headers", "query_params", "endpoint_url"):
        if getattr(split, name) is not None:
            out[name] = getattr(split, name)
    # the same secrets keep the same token: a Fernet token differs on every encryption, and a new one would read
    # as a change of configuration (job versions)
    out["sealed_secrets"] = stored.sealed_secrets if stored is not None and result == previous else seal_text(result)
    return out


def scrubber(sealed: CronJob | Mapping[str, Any]) -> Callable[[str | None], str | None] | None:
    """Masks the secrets of a job (or an output of `seal`) in text a target sent back, e.g. an echo of headers;
    None when the job has nothing to mask (most jobs: their results are then kept without a copy)."""
    token = sealed.sealed_secrets if isinstance(sealed, CronJob) else sealed.get("sealed_secrets")
    values: set[str] = set()
    for value in _open(token).values():
        for item in value if isinstance(value, list) else [value]:
            values |= {item, unquote(item)}
            if ":" in item:  # URL userinfo goes out as Basic auth
                values.add(base64.b64encode(unquote(item).encode()).decode())
    ordered = sorted((v for v in values if len(v) >= 3), key=len, reverse=True)
    if not ordered:
        return None

    def scrub(text: str | None) -> str | None:
        for value in ordered:
            text = text.replace(value, MASK) if text else text
        return text

    return scrub


def revealed(job: CronJob | Mapping[str, Any]) -> dict[str, Any]:
    """The job's fields as the request goes out: every column, stored secrets put back where `***` stands.

    Called where a worker snapshots the job, and by `POST /cron/test` on the output of `seal` (so an unsaved
    configuration may use `***` for a saved job's secrets under the same rules). Never show or store the result.
    """
    values = {c.key: getattr(job, c.key) for c in CronJob.__table__.columns} if isinstance(job, CronJob) else dict(job)
    secrets = _open(values.pop("sealed_secrets", None))
    headers, params, url = fields.reveal(values.get("headers") or {}, values.get("query_params") or {},
                                         values.get("endpoint_url") or "", secrets)
    values.update(headers=headers, query_params=params, endpoint_url=url)
    return values
