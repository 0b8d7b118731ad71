"""The documented patterns say exactly what the server accepts: property tests in both directions."""

from __future__ import annotations

import ipaddress
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from cronmanager.api import formats
from cronmanager.execution.ssrf import TargetRefused, check_url
from cronmanager.scheduling import cron

CRON = re.compile(formats.cron_pattern())
CRON_MATCH = formats._matcher(formats.cron_pattern())


@settings(max_examples=100, deadline=None)
@given(st.from_regex(CRON, fullmatch=True))
def test_every_expression_the_pattern_allows_is_valid(expression):
    cron.validate_expression(expression)
    assert cron.describe(expression)  # cron-descriptor fails on some valid lists: describe must not
    assert CRON_MATCH(expression)  # and pydantic-core's engine reads the pattern the same way


def _value(spec_lo: int, spec_hi: int, names: tuple[str, ...] = (), base: int = 0) -> st.SearchStrategy[str]:
    numbers = st.integers(spec_lo - 1, spec_hi + 1).map(str)
    if names:
        return st.one_of(numbers, st.sampled_from(names).map(lambda n: n.upper() if len(n) % 2 else n))
    return numbers


def _field(lo: int, hi: int, names: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    value = _value(lo, hi, names)
    base = st.one_of(st.just("*"), value, st.tuples(value, value).map("-".join))
    item = st.tuples(base, st.one_of(st.just(""), st.integers(0, 70).map(lambda s: f"/{s}"))).map("".join)
    return st.lists(item, min_size=1, max_size=3).map(",".join)


MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
EXPRESSIONS = st.one_of(
    st.tuples(_field(0, 59), _field(0, 23), _field(1, 31), _field(1, 12, MONTHS), _field(0, 7, DAYS)).map(" ".join),
    st.tuples(_field(0, 59), _field(0, 59), _field(0, 23), st.sampled_from(["30", "31", "30,31", "31/2", "29"]),
              _field(1, 12, MONTHS), _field(0, 7, DAYS)).map(" ".join),
    st.tuples(st.just("0 0"), st.sampled_from(["30", "31", "31,30", "30-31", "30/5"]),
              _field(1, 12, MONTHS), st.sampled_from(["*", "*/2", "mon", "1-5"])).map(" ".join),
)


@settings(max_examples=1000, deadline=None)
@given(EXPRESSIONS)
def test_the_pattern_matches_what_the_server_accepts(expression):
    try:
        cron.validate_expression(expression)
        valid = True
    except cron.CronError:
        valid = False
    if not valid:
        assert not CRON_MATCH(expression), expression
    else:
        assert CRON_MATCH(expression) or _known_gap(expression), expression


def _known_gap(expression: str) -> bool:
    """Spellings the server reads but the document leaves out (and the API refuses): mixed name/number ranges,
    and months that start at February (or a 30-day month) but range into longer ones."""
    fields = expression.split()
    dom, month = fields[-3], fields[-2]
    mixed = any(re.search(r"[a-z]-[0-9]|[0-9]-[a-z]", f, re.I) for f in fields)
    dom_starts = {item.split("/")[0].split("-")[0] for item in dom.split(",")}
    late_days_only = dom_starts <= {"30", "31"}
    return mixed or (late_days_only and re.search(r"[-/]", month) is not None)


@settings(max_examples=300, deadline=None)
@given(st.from_regex(re.compile(formats.IP_OR_NETWORK_PATTERN), fullmatch=True))
def test_every_documented_address_parses(value):
    ipaddress.ip_network(value, strict=False)


@settings(max_examples=80, deadline=None)  # each one asks the resolver
@given(st.from_regex(re.compile(formats.HTTP_URL_PATTERN), fullmatch=True))
def test_every_documented_url_passes_the_url_check(url):
    try:
        check_url(url, allow_private=True)
    except TargetRefused as err:
        assert err.error_class == "dns", (url, err)  # an unknown name is not a 422 (it may resolve later)


def test_the_zone_pattern_is_what_validate_timezone_accepts():
    names = formats.zone_names()
    assert "Europe/Berlin" in names and "UTC" in names and "Etc/GMT+5" in names and len(names) > 400
    pattern, match = re.compile(_zone_pattern()), formats._matcher(_zone_pattern())
    for name in names:
        cron.validate_timezone(name)
        assert pattern.fullmatch(name) and match(name)
    assert not match("Mars/Olympus") and not match("europe/berlin")


def _zone_pattern() -> str:
    from cronmanager.jobs.schemas import PreviewQuery

    return PreviewQuery.model_json_schema()["properties"]["timezone"]["pattern"]
