"""Frequency arithmetic, without the database: every preset, cron, month ends, leap years."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from subscriptions.frequencies import (
    MAX_COUNTED_SLOTS,
    PRESETS,
    InvalidFrequency,
    frequency_clean,
    frequency_count_between,
    frequency_describe,
    frequency_next,
    frequency_upcoming,
    month_slot,
)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


ANCHOR = at(2025, 3, 10, 9, 30)


@pytest.mark.parametrize(
    ("frequency", "expected"),
    [
        ("hourly", [at(2025, 3, 10, 10, 30), at(2025, 3, 10, 11, 30), at(2025, 3, 10, 12, 30)]),
        ("daily", [at(2025, 3, 11, 9, 30), at(2025, 3, 12, 9, 30), at(2025, 3, 13, 9, 30)]),
        ("weekly", [at(2025, 3, 17, 9, 30), at(2025, 3, 24, 9, 30), at(2025, 3, 31, 9, 30)]),
        ("monthly", [at(2025, 4, 10, 9, 30), at(2025, 5, 10, 9, 30), at(2025, 6, 10, 9, 30)]),
        ("two-month", [at(2025, 5, 10, 9, 30), at(2025, 7, 10, 9, 30), at(2025, 9, 10, 9, 30)]),
        ("three-month", [at(2025, 6, 10, 9, 30), at(2025, 9, 10, 9, 30), at(2025, 12, 10, 9, 30)]),
        ("four-month", [at(2025, 7, 10, 9, 30), at(2025, 11, 10, 9, 30), at(2026, 3, 10, 9, 30)]),
        ("six-month", [at(2025, 9, 10, 9, 30), at(2026, 3, 10, 9, 30), at(2026, 9, 10, 9, 30)]),
        ("yearly", [at(2026, 3, 10, 9, 30), at(2027, 3, 10, 9, 30), at(2028, 3, 10, 9, 30)]),
    ],
)
def test_every_preset_repeats_from_its_anchor(frequency, expected):
    assert frequency_upcoming(frequency, anchor=ANCHOR, after=ANCHOR, count=3) == expected


def test_every_preset_is_covered_above() -> None:
    assert set(PRESETS) == {
        "hourly",
        "daily",
        "weekly",
        "monthly",
        "two-month",
        "three-month",
        "four-month",
        "six-month",
        "yearly",
    }


@pytest.mark.parametrize("frequency", PRESETS)
def test_the_anchor_is_the_first_run_and_the_next_run_is_strictly_after(frequency):
    before = ANCHOR - timedelta(days=400)
    assert frequency_next(frequency, anchor=ANCHOR, after=before) == ANCHOR
    assert frequency_next(frequency, anchor=ANCHOR, after=ANCHOR) > ANCHOR
    second = frequency_next(frequency, anchor=ANCHOR, after=ANCHOR)
    assert frequency_next(frequency, anchor=ANCHOR, after=second - timedelta(microseconds=1)) == (
        second
    )
    assert frequency_next(frequency, anchor=ANCHOR, after=second) > second


def test_fixed_periods_are_counted_from_the_anchor_not_from_a_late_run() -> None:
    late = ANCHOR + timedelta(days=3, hours=5, minutes=7)
    assert frequency_next("daily", anchor=ANCHOR, after=late) == at(2025, 3, 14, 9, 30)
    assert frequency_next("hourly", anchor=ANCHOR, after=late) == at(2025, 3, 13, 15, 30)
    assert frequency_next("weekly", anchor=ANCHOR, after=late) == at(2025, 3, 17, 9, 30)


def test_monthly_from_the_31st_clamps_to_short_months_and_returns_to_the_31st() -> None:
    anchor = at(2025, 1, 31, 8)
    assert frequency_upcoming("monthly", anchor=anchor, after=anchor, count=6) == [
        at(2025, 2, 28, 8),
        at(2025, 3, 31, 8),
        at(2025, 4, 30, 8),
        at(2025, 5, 31, 8),
        at(2025, 6, 30, 8),
        at(2025, 7, 31, 8),
    ]


def test_monthly_in_a_leap_year_runs_on_february_29() -> None:
    anchor = at(2024, 1, 30, 8)
    assert frequency_upcoming("monthly", anchor=anchor, after=anchor, count=2) == [
        at(2024, 2, 29, 8),
        at(2024, 3, 30, 8),
    ]


def test_the_next_monthly_run_after_a_clamped_one_is_computed_from_the_anchor() -> None:
    anchor = at(2025, 1, 31, 8)
    # From the clamped February run, not "February 28 + 1 month = March 28".
    assert frequency_next("monthly", anchor=anchor, after=at(2025, 2, 28, 8)) == at(2025, 3, 31, 8)
    assert frequency_next("monthly", anchor=anchor, after=at(2025, 3, 5)) == at(2025, 3, 31, 8)


def test_calendar_steps_over_year_ends() -> None:
    anchor = at(2025, 8, 31, 12)
    assert frequency_upcoming("two-month", anchor=anchor, after=anchor, count=3) == [
        at(2025, 10, 31, 12),
        at(2025, 12, 31, 12),
        at(2026, 2, 28, 12),
    ]
    assert frequency_upcoming("six-month", anchor=anchor, after=anchor, count=3) == [
        at(2026, 2, 28, 12),
        at(2026, 8, 31, 12),
        at(2027, 2, 28, 12),
    ]
    assert frequency_upcoming("four-month", anchor=anchor, after=anchor, count=2) == [
        at(2025, 12, 31, 12),
        at(2026, 4, 30, 12),
    ]
    assert frequency_upcoming("three-month", anchor=at(2025, 11, 30), after=at(2025, 11, 30)) == [
        at(2026, 2, 28),
        at(2026, 5, 30),
        at(2026, 8, 30),
        at(2026, 11, 30),
        at(2027, 2, 28),
    ]


def test_yearly_from_february_29_falls_on_the_28th_and_back_on_the_29th_in_leap_years() -> None:
    anchor = at(2024, 2, 29, 6)
    assert frequency_upcoming("yearly", anchor=anchor, after=anchor, count=5) == [
        at(2025, 2, 28, 6),
        at(2026, 2, 28, 6),
        at(2027, 2, 28, 6),
        at(2028, 2, 29, 6),
        at(2029, 2, 28, 6),
    ]


def test_month_slot_clamps_the_day_only() -> None:
    assert month_slot(at(2023, 3, 31, 23, 59), months=-1) == at(2023, 2, 28, 23, 59)
    assert month_slot(at(2023, 12, 31), months=2) == at(2024, 2, 29)
    assert month_slot(at(2023, 12, 15), months=25) == at(2026, 1, 15)


def test_aware_datetimes_in_other_zones_are_compared_in_utc() -> None:
    rome = timezone(timedelta(hours=1))
    after = datetime(2025, 3, 11, 10, 31, tzinfo=rome)  # 09:31 UTC
    assert frequency_next("daily", anchor=ANCHOR, after=after) == at(2025, 3, 12, 9, 30)


# Cron ----------------------------------------------------------------------------------------


def test_cron_runs_on_its_ticks_from_the_anchor_in_utc() -> None:
    anchor = at(2025, 3, 5, 12)  # a Wednesday
    assert frequency_upcoming("0 9 * * 1", anchor=anchor, after=anchor, count=3) == [
        at(2025, 3, 10, 9),
        at(2025, 3, 17, 9),
        at(2025, 3, 24, 9),
    ]
    assert frequency_next("0 9 * * 1", anchor=anchor, after=at(2020, 1, 1)) == at(2025, 3, 10, 9)


def test_a_cron_tick_on_the_anchor_is_the_first_run() -> None:
    anchor = at(2025, 3, 10, 9)
    assert frequency_next("0 9 * * *", anchor=anchor, after=anchor - timedelta(days=1)) == anchor
    late_anchor = at(2025, 3, 10, 9, 0, 0) + timedelta(microseconds=300)
    assert frequency_next("0 9 * * *", anchor=late_anchor, after=at(2025, 1, 1)) == (
        at(2025, 3, 11, 9)
    )


def test_cron_every_hour_and_every_six_hours() -> None:
    anchor = at(2025, 3, 10, 9, 10)
    assert frequency_upcoming("15 * * * *", anchor=anchor, after=anchor, count=2) == [
        at(2025, 3, 10, 9, 15),
        at(2025, 3, 10, 10, 15),
    ]
    assert frequency_upcoming("0 */6 * * *", anchor=anchor, after=anchor, count=3) == [
        at(2025, 3, 10, 12),
        at(2025, 3, 10, 18),
        at(2025, 3, 11, 0),
    ]


def test_cron_last_day_of_the_month_and_leap_days() -> None:
    anchor = at(2025, 1, 15)
    assert frequency_upcoming("0 0 L * *", anchor=anchor, after=anchor, count=3) == [
        at(2025, 1, 31),
        at(2025, 2, 28),
        at(2025, 3, 31),
    ]
    assert frequency_upcoming("0 0 29 2 *", anchor=anchor, after=anchor, count=2) == [
        at(2028, 2, 29),
        at(2032, 2, 29),
    ]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("daily", "daily"),
        ("  Monthly ", "monthly"),
        ("TWO-MONTH", "two-month"),
        ("0 9 * * 1", "0 9 * * 1"),
        ("0  9 *  * mon-fri", "0 9 * * mon-fri"),
        ("30 */2 1,15 * *", "30 */2 1,15 * *"),
        ("0 0 L * *", "0 0 L * *"),
        ("*/60 * * * *", "*/60 * * * *"),  # minute 0 only: hourly
    ],
)
def test_valid_frequencies_are_stored_normalised(given, stored):
    assert frequency_clean(given) == stored


@pytest.mark.parametrize(
    ("frequency", "reason"),
    [
        ("* * * * *", "more often than hourly"),
        ("*/15 * * * *", "more often than hourly"),
        ("0,30 9 * * *", "more often than hourly"),
        ("0-5 9 * * *", "more often than hourly"),
        ("0 0 9 * * 1", "five fields"),  # six fields: seconds
        ("0 9 * *", "five fields"),
        ("@daily", "five fields"),
        ("fortnightly", "five fields"),
        ("", "five fields"),
        ("0 25 * * *", "Bad hour"),
        ("61 * * * *", "Bad minute"),
        ("0 0 31 2 *", "Bad day-of-month"),
        ("0 0 * 13 *", "Bad month"),
    ],
)
def test_invalid_frequencies_say_why(frequency, reason):
    with pytest.raises(InvalidFrequency, match=reason):
        frequency_clean(frequency)


def test_counting_missed_slots() -> None:
    assert frequency_count_between("hourly", anchor=ANCHOR, start=ANCHOR, end=ANCHOR) == 0
    end = ANCHOR + timedelta(days=3, minutes=1)
    assert frequency_count_between("hourly", anchor=ANCHOR, start=ANCHOR, end=end) == 72
    assert frequency_count_between("daily", anchor=ANCHOR, start=ANCHOR, end=end) == 3
    assert frequency_count_between("0 9 * * *", anchor=ANCHOR, start=ANCHOR, end=end) == 3
    monthly_end = at(2026, 3, 10, 9, 30)
    assert frequency_count_between("monthly", anchor=ANCHOR, start=ANCHOR, end=monthly_end) == 12
    years = ANCHOR + timedelta(days=3 * 365)
    assert frequency_count_between("hourly", anchor=ANCHOR, start=ANCHOR, end=years) == (
        MAX_COUNTED_SLOTS
    )


def test_descriptions() -> None:
    assert frequency_describe("daily") == "every day"
    assert frequency_describe("monthly") == "every month, on the start day"
    assert frequency_describe("three-month") == "every 3 months, on the start day"
    assert frequency_describe("yearly") == "every year, on the start day"
    assert frequency_describe("0 9 * * 1").startswith("cron, UTC: ")
