"""Where secrets sit in a job's request fields, and how they are swapped for `***` and back.

A secret is addressed by the field path the API names in errors: `headers.<name>`, `query_params.<name>`,
`endpoint_url.userinfo` (the URL's `user:password@`) and `endpoint_url.query.<name>` (a secret parameter written
into the URL itself). Values are kept raw (URL parts still percent-encoded) so a URL comes back byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote_plus, urlsplit

from cronmanager.secrets.names import MASK, looks_secret

USERINFO = "endpoint_url.userinfo"
_URL_QUERY = "endpoint_url.query."


@dataclass
class Split:
    """Request fields with every secret replaced by `***`, and the values that were there (path -> value)."""

    headers: dict[str, str] | None = None
    query_params: dict[str, str] | None = None
    endpoint_url: str | None = None
    found: dict[str, str | list[str]] = field(default_factory=dict)


def _split_netloc(netloc: str) -> tuple[str | None, str]:
    userinfo, at, hostport = netloc.rpartition("@")
    return (userinfo, hostport) if at else (None, netloc)


def _url_parts(url: str) -> tuple[str, str | None, str, str, str]:
    """(before netloc, userinfo, host[:port] and path, query, fragment) without re-encoding anything."""
    rest, hash_, fragment = url.partition("#")
    rest, question, query = rest.partition("?")
    scheme, sep, after = rest.partition("://")
    if not sep:
        return rest, None, "", query if question else "", (hash_ + fragment)
    netloc, slash, path = after.partition("/")
    userinfo, hostport = _split_netloc(netloc)
    return f"{scheme}://", userinfo, f"{hostport}{slash}{path}", query if question else "", hash_ + fragment


def split_url(url: str) -> tuple[str, dict[str, str | list[str]]]:
    """The URL with userinfo and secret-named query values as `***`, and what they were."""
    head, userinfo, middle, query, fragment = _url_parts(url)
    found: dict[str, str | list[str]] = {}
    if userinfo is not None:
        found[USERINFO] = userinfo
        head += f"{MASK}@"
    if query:
        parts, in_query = [], dict[str, list[str]]()
        for part in query.split("&"):
            name, eq, value = part.partition("=")
            if eq and looks_secret(unquote_plus(name)):
                in_query.setdefault(_URL_QUERY + unquote_plus(name), []).append(value)
                part = f"{name}={MASK}"
            parts.append(part)
        query = "&".join(parts)
        found.update(in_query)
    return head + middle + (f"?{query}" if query or "?" in url.partition("#")[0] else "") + fragment, found


def join_url(masked: str, secrets: dict[str, str | list[str]]) -> str:
    """Inverse of split_url: put the stored values back where `***` stands."""
    head, userinfo, middle, query, fragment = _url_parts(masked)
    if userinfo == MASK and isinstance(secrets.get(USERINFO), str):
        head += f"{secrets[USERINFO]}@"
    elif userinfo is not None:
        head += f"{userinfo}@"
    if query:
        queues = {k: list(v) for k, v in secrets.items() if k.startswith(_URL_QUERY) and isinstance(v, list)}
        parts = []
        for part in query.split("&"):
            name, eq, value = part.partition("=")
            pending = queues.get(_URL_QUERY + unquote_plus(name))
            if eq and value == MASK and pending:
                part = f"{name}={pending.pop(0)}"
            parts.append(part)
        query = "&".join(parts)
    return head + middle + (f"?{query}" if query or "?" in masked.partition("#")[0] else "") + fragment


def _mask_named(values: dict[str, str], field: str, found: dict[str, str | list[str]]) -> dict[str, str]:
    """Headers and query parameters alike: a value under a secret-looking name becomes `***` (kept in `found`)."""
    masked = {}
    for name, value in values.items():
        if looks_secret(name):
            found[f"{field}.{name}"] = value
            value = MASK
        masked[name] = value
    return masked


def split(headers: dict[str, str] | None, query_params: dict[str, str] | None, endpoint_url: str | None) -> Split:
    """Mask whichever of the three fields is given (None: not part of this change)."""
    out = Split()
    if headers is not None:
        out.headers = _mask_named(headers, "headers", out.found)
    if query_params is not None:
        out.query_params = _mask_named(query_params, "query_params", out.found)
    if endpoint_url is not None:
        out.endpoint_url, found = split_url(endpoint_url)
        out.found.update(found)
    return out


def is_kept(value: str | list[str]) -> bool:
    """`***` sent back means "keep what is stored"."""
    return value == MASK or (isinstance(value, list) and bool(value) and all(v == MASK for v in value))


def lookup(stored: dict[str, str | list[str]], path: str) -> str | list[str] | None:
    """The stored value for a path; header names match case-insensitively (HTTP does)."""
    if path in stored:
        return stored[path]
    if path.startswith("headers."):
        wanted = path.lower()
        return next((v for k, v in stored.items() if k.lower() == wanted), None)
    return None


def destination(url: str | None) -> tuple[str, str, int | None]:
    """Scheme, host and port (default port filled in): what a secret must not silently follow."""
    try:
        parts = urlsplit(url or "")
        port = parts.port
    except ValueError:
        return ("", url or "", None)
    scheme = parts.scheme.lower()
    return (scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme))


def reveal(headers: dict[str, str], query_params: dict[str, str], endpoint_url: str,
           secrets: dict[str, str | list[str]]) -> tuple[dict[str, str], dict[str, str], str]:
    """The request fields as they go out, stored values put back."""
    if not secrets:  # most jobs (and every fire of theirs, at its claim): nothing to put back, no URL to parse
        return dict(headers), dict(query_params), endpoint_url

    def opened(prefix: str, values: dict[str, str]) -> dict[str, str]:
        out = {}
        for name, value in values.items():
            stored = secrets.get(f"{prefix}.{name}")
            out[name] = stored if value == MASK and isinstance(stored, str) else value
        return out

    return opened("headers", headers), opened("query_params", query_params), join_url(endpoint_url, secrets)
