"""Finding and resolving time expressions (tenantry.pipeline.dates)."""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from tenantry.pipeline.dates import TimeExpression
from tenantry.pipeline.dates import find_time_expressions
from tenantry.pipeline.dates import format_day
from tenantry.pipeline.dates import guess_tense
from tenantry.pipeline.dates import parse_datetime_loose
from tenantry.pipeline.dates import period_end

MON = datetime(2023, 5, 8, 13, 56)  # Monday 8 May 2023
FRI = datetime(2024, 3, 15, 10, 0)  # Friday 15 March 2024


def only(text: str, ref: datetime = MON) -> TimeExpression:
    found = [e for e in find_time_expressions(text, ref) if e.date is not None]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("text", "ref", "expected", "granularity"),
    [
        pytest.param("I went to a support group yesterday", MON, "2023-05-07", "day", id="yesterday"),
        pytest.param("I'm at home today", MON, "2023-05-08", "day", id="today"),
        pytest.param("the party is tomorrow", MON, "2023-05-09", "day", id="tomorrow"),
        pytest.param("we watched a film last night", MON, "2023-05-07", "day", id="last-night"),
        pytest.param("it happened the day before yesterday", MON, "2023-05-06", "day", id="day-before-yesterday"),
        pytest.param("I went hiking last weekend", MON, "2023-05-06", "week", id="last-weekend-on-monday"),
        pytest.param("We went camping last weekend", FRI, "2024-03-09", "week", id="last-weekend-on-friday"),
        pytest.param("what a great time this past weekend", MON, "2023-05-06", "week", id="this-past-weekend"),
        pytest.param("we're hosting this weekend", FRI, "2024-03-16", "week", id="this-weekend"),
        pytest.param("I started a new course last week", MON, "2023-05-01", "week", id="last-week"),
        pytest.param("the audit is next week", MON, "2023-05-15", "week", id="next-week"),
        pytest.param("we adopted a cat last month", FRI, "2024-02-01", "month", id="last-month"),
        pytest.param("rent goes up next month", MON, "2023-06-01", "month", id="next-month"),
        pytest.param("I visited Rome last year", MON, "2022-01-01", "year", id="last-year"),
        pytest.param("I saw her last Friday", MON, "2023-05-05", "day", id="last-friday"),
        pytest.param("my flight leaves next Friday", FRI, "2024-03-22", "day", id="next-friday-on-friday"),
        pytest.param("the exam is next Thursday", FRI, "2024-03-21", "day", id="next-thursday"),
        pytest.param("let's meet this Wednesday", MON, "2023-05-10", "day", id="this-wednesday"),
        pytest.param("I turned 29 on Tuesday", FRI, "2024-03-12", "day", id="on-weekday-past"),
        pytest.param("the meeting is on Tuesday", FRI, "2024-03-19", "day", id="on-weekday-future"),
        pytest.param("see you Saturday!", FRI, "2024-03-16", "day", id="bare-weekday"),
        pytest.param("it was three days ago", MON, "2023-05-05", "day", id="n-days-ago"),
        pytest.param("I ran a 10k two weeks ago", FRI, "2024-03-01", "week", id="n-weeks-ago"),
        pytest.param("I met him a few days ago", MON, "2023-05-05", "week", id="a-few-days-ago"),
        pytest.param("I moved here two months ago", MON, "2023-03-01", "month", id="n-months-ago"),
        pytest.param("we married 2 years ago", MON, "2021-01-01", "year", id="n-years-ago"),
        pytest.param("the parcel arrives in 3 days", MON, "2023-05-11", "day", id="in-n-days"),
        pytest.param("we leave in two weeks", MON, "2023-05-22", "week", id="in-n-weeks"),
        pytest.param("the card arrives within 5 business days", FRI, "2024-03-22", "day", id="within-business-days"),
        pytest.param("I bumped into her the other day", MON, "2023-05-06", "week", id="the-other-day"),
        pytest.param("submit it before the end of the month", FRI, "2024-03-31", "day", id="end-of-month"),
        pytest.param("it is due on the 20th", FRI, "2024-03-20", "day", id="ordinal-day"),
    ],
)
def test_relative_expressions(text: str, ref: datetime, expected: str, granularity: str) -> None:
    expr = only(text, ref)
    assert expr.date is not None
    assert expr.date.date().isoformat() == expected
    assert expr.granularity == granularity
    assert text[expr.start : expr.end] == expr.text


@pytest.mark.parametrize(
    ("text", "ref", "expected"),
    [
        pytest.param("the launch is on 8 May 2023", FRI, "2023-05-08", id="day-month-year"),
        pytest.param("born on May 8, 2023", FRI, "2023-05-08", id="month-day-year"),
        pytest.param("the 8th of May, 2023 was sunny", FRI, "2023-05-08", id="ordinal-of-month"),
        pytest.param("renews on 2023-05-08", FRI, "2023-05-08", id="iso"),
        pytest.param("signed 05/08/2023", FRI, "2023-05-08", id="us-numeric"),
        pytest.param("my dentist appointment is on April 3", FRI, "2024-04-03", id="no-year-future"),
        pytest.param("I was there on December 3", FRI, "2023-12-03", id="no-year-past"),
        pytest.param("out of office until Monday, March 25", FRI, "2024-03-25", id="weekday-and-date"),
        pytest.param("Jan. 5 2024 was the kickoff", FRI, "2024-01-05", id="abbreviated-month"),
    ],
)
def test_explicit_dates(text: str, ref: datetime, expected: str) -> None:
    expr = only(text, ref)
    assert expr.date is not None and expr.date.date().isoformat() == expected
    assert expr.kind == "explicit"


@pytest.mark.parametrize(
    ("text", "ref", "expected", "granularity"),
    [
        pytest.param("the trip to Kyoto in April", FRI, "2024-04-01", "month", id="in-month"),
        pytest.param("we met in May 2023", FRI, "2023-05-01", "month", id="month-year"),
        pytest.param("the team launched the app last November", FRI, "2023-11-01", "month", id="last-month-name"),
        pytest.param("the move happens in early June", FRI, "2024-06-01", "month", id="early-month"),
        pytest.param("founded in 1998 by Jane", FRI, "1998-01-01", "year", id="in-year"),
        pytest.param("I've lived here since 2016", FRI, "2016-01-01", "year", id="since-year"),
    ],
)
def test_months_and_years(text: str, ref: datetime, expected: str, granularity: str) -> None:
    expr = only(text, ref)
    assert expr.date is not None and expr.date.date().isoformat() == expected
    assert expr.granularity == granularity


@pytest.mark.parametrize(
    ("text", "ref", "expected"),
    [
        pytest.param("1:56 pm on 8 May, 2023", FRI, datetime(2023, 5, 8, 13, 56), id="time-before-date"),
        pytest.param("my flight leaves tomorrow at 7am.", FRI, datetime(2024, 3, 16, 7, 0), id="time-after-day-word"),
        pytest.param("dinner tonight at 8", FRI, datetime(2024, 3, 15, 20, 0), id="tonight-bare-hour"),
        pytest.param("call at 3 p.m. tomorrow", FRI, datetime(2024, 3, 16, 15, 0), id="dotted-pm"),
    ],
)
def test_time_of_day_is_attached(text: str, ref: datetime, expected: datetime) -> None:
    assert only(text, ref).date == expected


@pytest.mark.parametrize(
    ("text", "replacement"),
    [
        pytest.param("I went to a support group yesterday", "on 7 May 2023", id="yesterday"),
        pytest.param("I started a new course last week", "the week before 8 May 2023", id="last-week"),
        pytest.param("we adopted a cat last month", "in April 2023", id="last-month"),
        pytest.param("I saw her last Friday", "on Friday 5 May 2023", id="weekday"),
        pytest.param("it moved since yesterday", "since 7 May 2023", id="keeps-preposition"),
        pytest.param("scheduled for tomorrow", "9 May 2023", id="no-doubled-preposition"),
        pytest.param("I met him a few days ago", "a few days before 8 May 2023", id="stays-vague"),
        pytest.param("I was born on 8 May 2023", "on 8 May 2023", id="explicit-unchanged"),
    ],
)
def test_replacement_is_self_contained(text: str, replacement: str) -> None:
    assert only(text).replacement == replacement


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("I may go later", id="modal-may"),
        pytest.param("Open Monday through Friday", id="weekday-range"),
        pytest.param("Can't believe it's already Friday", id="its-weekday"),
        pytest.param("I run every Monday", id="habit"),
        pytest.param("use version 2.0.1 or 3/4 cup of flour", id="numbers"),
        pytest.param("return items within 30 days of delivery", id="relative-to-other-event"),
        pytest.param("I've been married for six years", id="duration"),
        pytest.param("I love cooking on weekends", id="plural-weekends"),
        pytest.param("call me at 555-1234", id="phone"),
    ],
)
def test_no_date(text: str) -> None:
    assert [e for e in find_time_expressions(text, MON) if e.date is not None] == []


@pytest.mark.parametrize("word", ["recently", "lately", "these days", "nowadays"])
def test_vague_expressions_have_no_date(word: str) -> None:
    found = find_time_expressions(f"I have been busy {word}", MON)
    assert len(found) == 1 and found[0].date is None and found[0].kind == "vague"


def test_aware_reference_gives_utc_and_keeps_local_day() -> None:
    ref = datetime(2023, 5, 8, 1, 0, tzinfo=timezone(timedelta(hours=5)))  # 7 May 20:00 UTC
    expr = only("yesterday", ref)
    assert expr.date == datetime(2023, 5, 7, tzinfo=UTC)


def test_naive_reference_gives_naive() -> None:
    assert only("yesterday").date == datetime(2023, 5, 7)


def test_preposition_reported_for_deadlines() -> None:
    assert only("submit the report by next Friday", FRI).preposition == "by"
    assert only("out until Monday, March 25", FRI).preposition == "until"


@pytest.mark.parametrize(
    ("granularity", "expected"),
    [
        pytest.param("day", datetime(2024, 3, 15, 23, 59, 59, 999999), id="day"),
        pytest.param("month", datetime(2024, 3, 31, 23, 59, 59, 999999), id="month"),
        pytest.param("year", datetime(2024, 12, 31, 23, 59, 59, 999999), id="year"),
    ],
)
def test_period_end(granularity: str, expected: datetime) -> None:
    expr = TimeExpression("x", 0, 1, datetime(2024, 3, 15), granularity, "x")  # type: ignore[arg-type]
    assert period_end(expr) == expected


@pytest.mark.parametrize(
    ("text", "tense"),
    [
        pytest.param("I went there", "past", id="irregular-past"),
        pytest.param("we visited the museum", "past", id="regular-past"),
        pytest.param("I will go", "future", id="will"),
        pytest.param("the package was supposed to arrive", "past", id="supposed-to"),
        pytest.param("I'm excited", None, id="ed-adjective"),
    ],
)
def test_guess_tense(text: str, tense: str | None) -> None:
    assert guess_tense(text) == tense


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1:56 pm on 8 May, 2023", datetime(2023, 5, 8, 13, 56), id="locomo-style"),
        pytest.param("8 May, 2023", datetime(2023, 5, 8), id="day-month-comma-year"),
        pytest.param("May 8, 2023 10:30 AM", datetime(2023, 5, 8, 10, 30), id="month-day-year-time"),
        pytest.param("2023-05-08T13:56:00Z", datetime(2023, 5, 8, 13, 56, tzinfo=UTC), id="iso-z"),
        pytest.param("2023-05-08 13:56", datetime(2023, 5, 8, 13, 56), id="iso-space"),
        pytest.param("05/08/2023", datetime(2023, 5, 8), id="us"),
        pytest.param("May 2023", datetime(2023, 5, 1), id="month-year"),
        pytest.param("8 May", None, id="no-year"),
        pytest.param("not a date", None, id="garbage"),
        pytest.param("", None, id="empty"),
        pytest.param("31/02/2023", None, id="impossible-day"),
    ],
)
def test_parse_datetime_loose(text: str, expected: datetime | None) -> None:
    assert parse_datetime_loose(text) == expected


def test_format_day() -> None:
    assert format_day(date(2023, 5, 7)) == "7 May 2023"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)))
def test_never_raises(text: str, ref: datetime) -> None:
    for expr in find_time_expressions(text, ref):
        assert 0 <= expr.start < expr.end <= len(text)
    parse_datetime_loose(text)
