"""Field types whose documented schema is exactly what the server accepts, so generated clients and fuzzers agree.

Each type validates with the same pattern or list the OpenAPI document shows (pydantic enforces the pattern),
and then with the server's own rule (cron parser, zone database), which the pattern was built to match. The
property tests in tests/unit/test_formats.py hold the two together.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, WithJsonSchema
from pydantic_core import PydanticCustomError, SchemaValidator, ValidationError, core_schema

from cronmanager.scheduling import cron

# ---- cron expressions ------------------------------------------------------------------------------------------


def _digits(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"[{lo}-{hi}]"


def _numbers(lo: int, hi: int) -> str:
    """Decimal numbers lo..hi (0 <= lo <= hi <= 99); one-digit numbers may carry one leading zero ("05")."""
    parts = []
    if lo <= 9:
        parts.append(f"0?{_digits(lo, min(hi, 9))}")
        lo = 10
    while lo <= hi:
        end = min(hi, lo // 10 * 10 + 9)
        parts.append(f"{lo // 10}{_digits(lo % 10, end % 10)}")
        lo = end + 1
    return "|".join(parts)


def _ranges(hi: int, starts: range) -> list[str]:
    """`a-b` with a in `starts` and a <= b <= hi, grouped by decade so the alternation stays short."""
    parts = []
    for tens in range(starts.start // 10, (starts.stop - 1) // 10 + 1):
        prefix = "0?" if tens == 0 else str(tens)
        first = max(starts.start, tens * 10) - tens * 10
        last = min(starts.stop - 1, tens * 10 + 9) - tens * 10
        top = min(hi - tens * 10, 9)
        parts.append(prefix + _alt([f"{u}-{prefix}{_digits(u, top)}" for u in range(first, last + 1)]))
        if (tens + 1) * 10 <= hi:
            parts.append(f"{prefix}{_digits(first, last)}-{_alt([_numbers((tens + 1) * 10, hi)])}")
    return parts


def _caseless(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" for c in word)


def _alt(parts: list[str]) -> str:
    return "(?:" + "|".join(parts) + ")"


@dataclass(frozen=True)
class _Spec:
    lo: int
    hi: int
    names: tuple[str, ...] = ()  # names[i] stands for lo_name + i
    name_base: int = 0
    max_step: int | None = None

    def item(self, starts: range | None = None) -> str:
        """One item: `*`, `n`, `a-b` (a <= b), a name or an ordered name range, each optionally `/step`.

        `starts` limits the item's first value (`*` starts at `lo`).
        """
        allowed = starts if starts is not None else range(self.lo, self.hi + 1)
        bases = [r"\*"] if self.lo in allowed else []
        bases += _ranges(self.hi, allowed)
        bases.append(_numbers(allowed.start, allowed.stop - 1))
        for i, name in enumerate(self.names):
            if self.name_base + i in allowed:
                bases.append(f"{_caseless(name)}-{_alt([_caseless(n) for n in self.names[i:]])}")
                bases.append(_caseless(name))
        step = f"(?:/{_alt([_numbers(1, self.max_step or self.hi - self.lo + 1)])})?"
        return _alt(bases) + step

    def star_item(self) -> str:
        return rf"\*(?:/{_alt([_numbers(1, self.max_step or self.hi - self.lo + 1)])})?"

    def field(self) -> str:
        item = self.item()
        return f"{item}(?:,{item})*"

    def field_with(self, starts: range) -> str:
        """At least one item starting in `starts`."""
        any_item = self.item()
        return f"(?:{any_item},)*{self.item(starts)}(?:,{any_item})*"

    def field_of(self, first: str, rest: str) -> str:
        return f"{first}(?:,{rest})*"


_MINUTE = _Spec(0, 59)
_HOUR = _Spec(0, 23)
_DOM = _Spec(1, 31)
_MONTH = _Spec(1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)
_DOW = _Spec(0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat"), 0, max_step=7)
_MACROS = ("yearly", "annually", "monthly", "weekly", "daily", "midnight", "hourly")


def _months_with(numbers: tuple[int, ...]) -> str:
    """A month field with an item starting at one of `numbers` (that month is then in the field)."""
    any_item = _MONTH.item()
    firsts = [_MONTH.item(range(n, n + 1)) for n in numbers]
    return f"(?:{any_item},)*{_alt(firsts)}(?:,{any_item})*"


@functools.cache
def cron_pattern() -> str:
    """5 fields (or 6 with seconds first) or a macro, exactly as `cron.validate_expression` accepts them.

    Besides syntax and ranges, one rule: the expression must be able to fire. When day-of-month and
    day-of-week are not both restricted (Vixie cron ORs them only then), a listed day must exist in a listed
    month. Spelled out: a day-of-month item starting at 1-29 (or `*`); or only days 30/31 with a restricted
    day-of-week; or only days 30/31 in a month that has them (an item starting at such a month).
    """
    sp = "[ \t]+"
    high, day30 = _DOM.item(range(30, 32)), _DOM.item(range(30, 31))
    only_high = f"(?:{high},)*{high}"
    has_30 = f"(?:{high},)*{day30}(?:,{high})*"
    dow_any, dow_star = _DOW.field(), _DOW.field_of(_DOW.star_item(), _DOW.item())
    dow_restricted = _DOW.field_of(_DOW.item(range(0, 8)).replace("\\*|", "", 1), _DOW.item())
    month_any = _MONTH.field()
    not_february = (1, *range(3, 13))
    long_months = (1, 3, 5, 7, 8, 10, 12)
    days = _alt([
        f"{_DOM.field_with(range(1, 30))}{sp}{month_any}{sp}{dow_any}",
        f"{only_high}{sp}{month_any}{sp}{dow_restricted}",
        f"{has_30}{sp}{_months_with(not_february)}{sp}{dow_star}",
        f"{only_high}{sp}{_months_with(long_months)}{sp}{dow_star}",
    ])
    fields = f"(?:{_MINUTE.field()}{sp})?{_MINUTE.field()}{sp}{_HOUR.field()}{sp}{days}"
    return f"^[ \t]*(?:@{_alt([_caseless(m) for m in _MACROS])}|{fields})[ \t]*$"


# ---- URLs, header names and values, addresses ------------------------------------------------------------------

_PORT = "(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_URL_CHARS = "A-Za-z0-9._~%!$&'()*+,;=:"  # RFC 3986 pchar without "@" and "-" (each class adds what it allows)
HTTP_URL_PATTERN = (f"^[hH][tT][tT][pP][sS]?://(?:[{_URL_CHARS}-]+@)?{_LABEL}(?:\\.{_LABEL})*(?::{_PORT})?"
                    f"(?:/[{_URL_CHARS}@/-]*)?(?:\\?[{_URL_CHARS}@/?-]*)?(?:#[{_URL_CHARS}@/?-]*)?$")
HEADER_NAME_PATTERN = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"  # an HTTP token (RFC 9110)
HEADER_VALUE_PATTERN = "^[\\t\\x20-\\x7e\\x80-\\xff]*$"  # Latin-1 without control characters
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = f"{_OCTET}(?:\\.{_OCTET}){{3}}"
_H16 = "[0-9A-Fa-f]{1,4}"
_IPV6 = "(?:" + "|".join([
    f"(?:{_H16}:){{7}}{_H16}",
    f"(?:{_H16}:){{1,7}}:",
    *(f"(?:{_H16}:){{1,{7 - n}}}(?::{_H16}){{1,{n}}}" for n in range(1, 7)),
    f"{_H16}:(?::{_H16}){{1,6}}",
    f":(?:(?::{_H16}){{1,7}}|:)",
]) + ")"
IP_OR_NETWORK_PATTERN = (f"^(?:{_IPV4}(?:/(?:3[0-2]|[12]?[0-9]))?"
                         f"|{_IPV6}(?:/(?:12[0-8]|1[01][0-9]|[1-9]?[0-9]))?)$")


# ---- the types -------------------------------------------------------------------------------------------------

def _matcher(pattern: str) -> Callable[[str], bool]:
    """pydantic-core's (Rust, linear-time) regex: the engine that also reads `pattern` in the document."""
    validator = SchemaValidator(core_schema.str_schema(pattern=pattern))

    def matches(value: str) -> bool:
        try:
            validator.validate_python(value)
        except ValidationError:
            return False
        return True

    return matches


def documented(schema: dict[str, Any], check: Callable[[str], Any] | None = None,
               pattern_message: str = "has an unsupported form") -> Any:
    """A string type validated by `check` (the server's rule, with its message) and by the schema's pattern.

    Validation raises its own message rather than pydantic's "should match pattern '<regex>'", which for the
    cron grammar is 30 KB long.
    """
    pattern = schema.get("pattern")
    matches = _matcher(pattern) if pattern else None
    allowed = frozenset(schema["enum"]) if "enum" in schema else None

    def validate(value: str) -> str:
        if len(value) > schema.get("maxLength", len(value)) or len(value) < schema.get("minLength", 0):
            raise PydanticCustomError("invalid", "must be {lo} to {hi} characters long",
                                      {"lo": schema.get("minLength", 0), "hi": schema.get("maxLength", "any")})
        if check is not None:
            try:
                check(value)
            except ValueError as err:
                raise PydanticCustomError("invalid", str(err)) from None
        if matches is not None and not matches(value):
            raise PydanticCustomError("invalid", pattern_message)
        if allowed is not None and value not in allowed:
            raise PydanticCustomError("invalid", f"{value!r} is not one of the documented values")
        return value

    return Annotated[str, AfterValidator(validate), WithJsonSchema({"type": "string", **schema})]


def _cron_check(value: str) -> None:
    try:
        cron.validate_expression(value)
    except cron.CronError as err:
        raise ValueError(f"{err.field}: {err}") from None


def _zone_check(value: str) -> None:
    try:
        cron.validate_timezone(value)
    except cron.CronError as err:
        raise ValueError(str(err)) from None


@functools.cache
def zone_names() -> list[str]:
    """Every zone `cron.validate_timezone` accepts, for the document's enum."""
    names = set()
    for name in zoneinfo.available_timezones() | {"UTC"}:
        try:
            cron.validate_timezone(name)
        except cron.CronError:
            continue
        names.add(name)
    return sorted(names)


CronExpression = documented(
    {"pattern": cron_pattern(), "maxLength": 200,
     "description": "5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first, or a macro "
                    "(@hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually); it must be able to fire",
     "examples": ["*/5 * * * *", "0 2 * * mon-fri", "@daily"]},
    _cron_check,
    "expression: unsupported spelling (at most one leading zero; name ranges such as mon-fri need names on both "
    "sides; fields separated by spaces or tabs)")
# a pattern rather than an enum: the same set, but fuzzers do not send all ~600 names to every operation
TimeZone = documented({"pattern": "^(?:" + "|".join(n.replace("+", "\\+") for n in zone_names()) + ")$",
                       "maxLength": 64, "description": "an IANA time zone name",
                       "examples": ["UTC", "Europe/Berlin", "America/New_York"]}, _zone_check)
HttpUrl = documented(
    {"pattern": HTTP_URL_PATTERN, "maxLength": 2048, "minLength": 8,
     "description": "an http(s) URL with a DNS name or IPv4 host; targets on private, loopback or link-local "
                    "addresses are refused (422) unless ALLOW_PRIVATE_TARGETS is on",
     "examples": ["https://billing.example.com/close-day"]},
    None, "must be an http(s) URL such as https://example.com/hook (letters, digits and URL punctuation only)")
_ADDRESS_MATCH = _matcher(IP_OR_NETWORK_PATTERN)


def _allowlist_check(values: list[str]) -> list[str]:
    for value in values:
        if not _ADDRESS_MATCH(value):
            raise PydanticCustomError("invalid", f"{value!r} is not an IP address or CIDR range")
    return values


IpAllowlist = Annotated[list[str], AfterValidator(_allowlist_check), WithJsonSchema({
    "type": "array", "maxItems": 50, "description": "IPv4/IPv6 addresses or CIDR ranges the token may be used from",
    "items": {"type": "string", "pattern": IP_OR_NETWORK_PATTERN, "examples": ["203.0.113.7", "10.0.0.0/8"]}})]
# a character str.strip() keeps: the server strips names and refuses blank ones
_SPACE = "\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
VISIBLE_PATTERN = f"^[^\\u0000]*[^\\u0000{_SPACE}][^\\u0000]*$"
Name = documented({"pattern": VISIBLE_PATTERN, "minLength": 1, "maxLength": 200,
                   "description": "not blank (surrounding white space is removed)"}, None, "must not be blank")
_NAME_MATCH, _VALUE_MATCH = _matcher(HEADER_NAME_PATTERN), _matcher(HEADER_VALUE_PATTERN)


def _header_check(headers: dict[str, str]) -> dict[str, str]:
    for name, value in headers.items():
        if not _NAME_MATCH(name) or len(name) > 200:
            raise PydanticCustomError("invalid", f"invalid header name {name!r}: use letters, digits and "
                                      "!#$%&'*+.^_`|~- (at most 200)")
        if not _VALUE_MATCH(value):
            raise PydanticCustomError("invalid", f"invalid value of header {name!r}: control characters or "
                                      "characters beyond Latin-1")
    return headers


Headers = Annotated[dict[str, str], AfterValidator(_header_check), WithJsonSchema({
    "type": "object", "maxProperties": 50, "propertyNames": {"pattern": HEADER_NAME_PATTERN, "maxLength": 200},
    "additionalProperties": {"type": "string", "pattern": HEADER_VALUE_PATTERN}})]

EMAIL_PATTERN = f"^[A-Za-z0-9._%+-]+@{_LABEL}(?:\\.{_LABEL})*$"
EMAIL_SCHEMA = {"type": "string", "pattern": EMAIL_PATTERN, "maxLength": 254, "description": "one e-mail address"}
URL_SCHEMA = {"type": "string", "pattern": HTTP_URL_PATTERN, "maxLength": 2048, "minLength": 8}
EMAIL_MATCH, URL_MATCH = _matcher(EMAIL_PATTERN), _matcher(HTTP_URL_PATTERN)
