"""Response assertions (SPEC §21): checks a response must pass for the attempt to count as a success.

A job's `assertions` are stored as the API took them (a list of dicts with a `type`). They are compiled here once
per distinct list (an LRU keyed by the list's JSON: one job version, or one unsaved configuration under test), so a
fire costs a dict look-up and the checks themselves; the same compilation refuses an invalid list at save time
(`InvalidAssertion` names the item, e.g. `assertions[2].pattern`).

Rules a reader of the run record needs:
- Assertions run only on a response that already passed the status check: transport errors and a status outside
  `expected_statuses` (default: any 2xx) fail as before. A `status_in` assertion *replaces* that status check (the
  client then accepts every status and `status_in` judges it), so a job has either `expected_statuses` or a
  `status_in` assertion, never both.
- They run in order; the first that fails makes the attempt FAILED with error_class `assertion`, a message naming
  it (`assertion 2 (json_path $.status equals "ok"): got "degraded"`, counted from 1) and `transient` set: an
  assertion failure is retried like any failure.
- The body examined is the body the client kept: at most its first 64 KiB (`HttpClient.max_body`). `body_contains`
  and `body_regex` search that part (a miss on a truncated body says so); `json_path` refuses a truncated body
  (half a document is not JSON).
- `body_regex` uses the `regex` module with a per-search timeout (REGEX_TIMEOUT_S) and patterns of at most
  MAX_PATTERN characters, so a backtracking pattern fails its assertion instead of holding a worker thread.
"""

from __future__ import annotations

import enum
import functools
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import regex
from jsonpath_ng import JSONPath
from jsonpath_ng.ext import parse as parse_jsonpath

from cronmanager.execution.outcome import ErrorClass, HttpResult

MAX_ASSERTIONS = 20
MAX_PATTERN = 500  # characters of a regex or JSONPath
MAX_VALUE = 1000  # characters of a body_contains / header_equals value
REGEX_TIMEOUT_S = 0.1
_GOT_CHARS = 200  # how much of an unexpected value a message quotes
ALL_STATUSES = frozenset(range(100, 600))  # what the client accepts when a status_in assertion judges the status


class AssertionType(enum.StrEnum):
    STATUS_IN = "status_in"
    BODY_CONTAINS = "body_contains"
    BODY_REGEX = "body_regex"
    JSON_PATH = "json_path"
    HEADER_EQUALS = "header_equals"
    MAX_DURATION_MS = "max_duration_ms"


class InvalidAssertion(ValueError):
    """`field` is the item's path in the job (`assertions[2].pattern`); str(e) says what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class _Response:
    """The response as the checks see it; the body is parsed as JSON at most once, and only if a check asks."""

    def __init__(self, result: HttpResult) -> None:
        self.result = result
        self._json: tuple[Any, str | None] | None = None

    def json(self) -> tuple[Any, str | None]:
        """(document, None) or (None, why the body is not a JSON document)."""
        if self._json is None:
            if self.result.truncated:
                self._json = (None, "body was cut at 64 KiB (truncated): not parsed as JSON")
            else:
                try:
                    self._json = (json.loads(self.result.body), None)
                except (ValueError, RecursionError) as err:
                    self._json = (None, f"body is not JSON ({str(err)[:80]})")
        return self._json


Test = Callable[[_Response], str | None]  # None: passed; else what was found instead


@dataclass(frozen=True)
class Check:
    number: int  # counted from 1, as the form lists them
    label: str  # what it asserts, in words: `json_path $.status equals "ok"`
    test: Test

    def failure(self, response: _Response) -> str | None:
        found = self.test(response)
        return None if found is None else f"assertion {self.number} ({self.label}): {found}"


def _quote(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _GOT_CHARS else text[:_GOT_CHARS] + "…"


def _truncation_note(response: _Response) -> str:
    return " in the first 64 KiB (body truncated)" if response.result.truncated else ""


def _same(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1, 1 is 1.0, objects and arrays compared member by member."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _text(item: Mapping[str, Any], key: str, where: str, limit: int = MAX_VALUE, *, blank: bool = False) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise InvalidAssertion(f"{where}.{key}", "required, a string")
    if not blank and not value:
        raise InvalidAssertion(f"{where}.{key}", "must not be empty")
    if len(value) > limit:
        raise InvalidAssertion(f"{where}.{key}", f"at most {limit} characters")
    return value


def _status_in(item: Mapping[str, Any], where: str) -> tuple[str, Test]:
    values = item.get("values")
    if (not isinstance(values, list) or not values or len(values) > 50
            or any(isinstance(v, bool) or not isinstance(v, int) or not 100 <= v <= 599 for v in values)):
        raise InvalidAssertion(f"{where}.values", "1 to 50 HTTP status codes (100-599)")
    allowed = frozenset(values)

    def test(r: _Response) -> str | None:
        return None if r.result.status_code in allowed else f"got {r.result.status_code}"
    return f"status in {', '.join(str(v) for v in values)}", test


def _body_contains(item: Mapping[str, Any], where: str) -> tuple[str, Test]:
    value = _text(item, "value", where)

    def test(r: _Response) -> str | None:
        return None if value in r.result.body else f"not found{_truncation_note(r)}"
    return f"body contains {_quote(value)}", test


def _body_regex(item: Mapping[str, Any], where: str) -> tuple[str, Test]:
    pattern = _text(item, "pattern", where, MAX_PATTERN)
    try:
        compiled = regex.compile(pattern)
    except (regex.error, OverflowError, RecursionError) as err:
        raise InvalidAssertion(f"{where}.pattern", f"not a valid regular expression: {err}") from None

    def test(r: _Response) -> str | None:
        try:
            found = compiled.search(r.result.body, timeout=REGEX_TIMEOUT_S)
        except TimeoutError:
            return f"gave up after {int(REGEX_TIMEOUT_S * 1000)} ms (the pattern backtracks too much)"
        return None if found else f"no match{_truncation_note(r)}"
    return f"body matches /{pattern}/", test


@functools.lru_cache(maxsize=1024)
def _jsonpath(path: str) -> JSONPath:
    with _PARSE_LOCK:  # jsonpath-ng's parser (ply) is not documented as thread-safe; parsing is rare
        return parse_jsonpath(path)


_PARSE_LOCK = threading.Lock()


def _json_path(item: Mapping[str, Any], where: str) -> tuple[str, Test]:
    path = _text(item, "path", where, MAX_PATTERN)
    try:
        expr = _jsonpath(path)
    except Exception as err:  # jsonpath-ng raises its own errors and ply's, with no common base
        raise InvalidAssertion(f"{where}.path", f"not a valid JSONPath: {str(err)[:200]}") from None
    has_equals, exists = "equals" in item, item.get("exists")
    if has_equals == (exists is not None):
        raise InvalidAssertion(f"{where}.equals", "give either `equals` (any JSON value) or `exists: true`")
    if exists is not None and exists is not True:
        raise InvalidAssertion(f"{where}.exists", "only `true` (use `equals` to compare a value)")
    expected = item.get("equals")

    def test(r: _Response) -> str | None:
        document, why = r.json()
        if why:
            return why
        try:
            values = [m.value for m in expr.find(document)]
        except Exception as err:  # a filter comparing incomparable types, for one
            return f"could not evaluate: {str(err)[:100]}"
        if not values:
            return "no match"
        if not has_equals or any(_same(v, expected) for v in values):
            return None
        return f"got {_quote(values[0] if len(values) == 1 else values)}"
    return (f"json_path {path} equals {_quote(expected)}" if has_equals else f"json_path {path} exists"), test


def _header_equals(item: Mapping[str, Any], where: str) -> tuple[str, Test]:
    name = _text(item, "name", where, 200)
    value = _text(item, "value", where, blank=True)
    wanted = name.lower()

    def test(r: _Response) -> str | None:
        got = next((v for k, v in r.result.headers.items() if k.lower() == wanted), None)
        if got is None:
            return "header missing"
        return None if got == value else f"got {_quote(got)}"
    return f"header {name} equals {_quote(value)}", test


def _max_duration(item: Mapping[str, Any], where: str) -> tuple[str, Test]:
    limit = item.get("value")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 86_400_000:
        raise InvalidAssertion(f"{where}.value", "milliseconds, 1-86400000")

    def test(r: _Response) -> str | None:
        return None if r.result.elapsed_ms <= limit else f"took {r.result.elapsed_ms} ms"
    return f"duration at most {limit} ms", test


_BUILDERS: dict[AssertionType, Callable[[Mapping[str, Any], str], tuple[str, Test]]] = {
    AssertionType.STATUS_IN: _status_in,
    AssertionType.BODY_CONTAINS: _body_contains,
    AssertionType.BODY_REGEX: _body_regex,
    AssertionType.JSON_PATH: _json_path,
    AssertionType.HEADER_EQUALS: _header_equals,
    AssertionType.MAX_DURATION_MS: _max_duration,
}


def compile_list(items: Sequence[Mapping[str, Any]]) -> tuple[Check, ...]:
    """The checks of a job's `assertions`; raises InvalidAssertion naming the first bad item."""
    if len(items) > MAX_ASSERTIONS:
        raise InvalidAssertion("assertions", f"at most {MAX_ASSERTIONS} assertions")
    checks = []
    for index, item in enumerate(items):
        where = f"assertions[{index}]"
        try:
            kind = AssertionType(str(item.get("type")))
        except ValueError:
            raise InvalidAssertion(f"{where}.type", f"one of {', '.join(t.value for t in AssertionType)}") from None
        label, test = _BUILDERS[kind](item, where)
        checks.append(Check(index + 1, label, test))
    return tuple(checks)


@functools.lru_cache(maxsize=2048)
def _compiled(key: str) -> tuple[Check, ...]:
    return compile_list(json.loads(key))


def checks_of(items: Sequence[Mapping[str, Any]] | None) -> tuple[Check, ...]:
    """Compiled once per distinct list (a job version), then served from the cache."""
    return _compiled(json.dumps(list(items), sort_keys=True)) if items else ()


def judges_status(items: Sequence[Mapping[str, Any]] | None) -> bool:
    """True when a `status_in` assertion decides which statuses count (the client then accepts all)."""
    return any(item.get("type") == AssertionType.STATUS_IN for item in items or ())


def normalised(items: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """The list as stored: validated, each item with only the keys its type knows (for exports and versions)."""
    items = list(items or [])
    compile_list(items)
    keys = {AssertionType.STATUS_IN: ("values",), AssertionType.BODY_CONTAINS: ("value",),
            AssertionType.BODY_REGEX: ("pattern",), AssertionType.JSON_PATH: ("path", "equals", "exists"),
            AssertionType.HEADER_EQUALS: ("name", "value"), AssertionType.MAX_DURATION_MS: ("value",)}
    return [{"type": item["type"], **{k: item[k] for k in keys[AssertionType(item["type"])] if k in item}}
            for item in items]


def apply(items: Sequence[Mapping[str, Any]] | None, result: HttpResult) -> HttpResult:
    """The result, failed by the first assertion that does not hold; unchanged when none fails or the request
    had failed already (the assertions then have nothing to judge)."""
    if not items or not result.ok:
        return result
    response = _Response(result)
    for check in checks_of(items):
        message = check.failure(response)
        if message is not None:
            return replace(result, ok=False, error=message, error_class=ErrorClass.ASSERTION, transient=True)
    return result
