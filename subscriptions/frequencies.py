"""When a subscription runs: the frequency presets and cron expressions (SPEC.md §2).

Pure functions of (frequency, anchor, time), no database. Every run time of a subscription is a
*slot* on a grid drawn from its anchor (its `starts_at`), never from the previous run: a monthly
subscription anchored on the 31st runs on the last day of shorter months and is back on the 31st
the month after, and a late run does not shift the ones after it.

- `hourly`, `daily`, `weekly`: the anchor plus a whole number of hours, days or weeks.
- `monthly` … `yearly`: the anchor's day and time of day, every 1, 2, 3, 4, 6 or 12 months,
  clamped to the last day of a shorter month.
- a cron expression (five fields, UTC) whose minute field is one fixed value: its smallest unit
  is the hour. Its slots are its ticks from the anchor on.
"""

import calendar
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice

from cronsim import CronSim, CronSimError

FIXED_PERIODS = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(weeks=1),
}
MONTH_PERIODS = {
    "monthly": 1,
    "two-month": 2,
    "three-month": 3,
    "four-month": 4,
    "six-month": 6,
    "yearly": 12,
}
PRESETS = (*FIXED_PERIODS, *MONTH_PERIODS)
# Counting the slots a stopped scheduler missed stops here (an hourly subscription left for a
# year has 8,760): the figure is recorded, it decides nothing.
MAX_COUNTED_SLOTS = 10_000


class InvalidFrequency(ValueError):
    """The frequency is neither a preset nor an hourly-or-coarser cron expression."""


def frequency_clean(frequency: str) -> str:
    """The frequency as stored (a preset, or a cron expression with single spaces), or raise
    InvalidFrequency saying what is wrong."""
    value = " ".join(str(frequency).split())
    if value.lower() in PRESETS:
        return value.lower()
    fields = value.split(" ")
    if len(fields) != 5:
        presets = ", ".join(PRESETS)
        raise InvalidFrequency(
            f"{value!r} is not a frequency: use one of {presets}, or a cron expression of five "
            "fields (minute hour day-of-month month day-of-week), e.g. '0 9 * * 1'"
        )
    try:
        cron = CronSim(value, datetime(2000, 1, 1, tzinfo=UTC))
        next(cron)
    except (CronSimError, StopIteration) as exc:
        reason = str(exc) or "it never runs"
        raise InvalidFrequency(f"{value!r} is not a valid cron expression: {reason}") from None
    if len(cron.minutes) != 1:
        raise InvalidFrequency(
            f"{value!r} runs more often than hourly: the minute field must be one fixed "
            "value (e.g. '0'), the smallest unit of a frequency is the hour"
        )
    return value


def is_preset(frequency: str) -> bool:
    return frequency in PRESETS


def frequency_next(frequency: str, *, anchor: datetime, after: datetime) -> datetime:
    """The first slot strictly after `after` (the anchor itself when `after` is before it)."""
    anchor, after = anchor.astimezone(UTC), after.astimezone(UTC)
    if after < anchor:
        return _first_slot(frequency, anchor=anchor)
    if frequency in FIXED_PERIODS:
        period = FIXED_PERIODS[frequency]
        return anchor + period * ((after - anchor) // period + 1)
    if frequency in MONTH_PERIODS:
        step = MONTH_PERIODS[frequency]
        index = max(0, _months_between(anchor, after) // step - 1)
        while (slot := month_slot(anchor, months=index * step)) <= after:
            index += 1
        return slot
    return next(CronSim(frequency, after))


def _first_slot(frequency: str, *, anchor: datetime) -> datetime:
    if is_preset(frequency):
        return anchor
    # CronSim yields ticks after whole seconds: start just before the anchor to include it.
    return next(CronSim(frequency, anchor - timedelta(microseconds=1)))


def frequency_slots(frequency: str, *, anchor: datetime, after: datetime) -> Iterator[datetime]:
    """The slots after `after`, in order, without end."""
    slot = frequency_next(frequency, anchor=anchor, after=after)
    while True:
        yield slot
        slot = frequency_next(frequency, anchor=anchor, after=slot)


def frequency_upcoming(
    frequency: str, *, anchor: datetime, after: datetime, count: int = 5
) -> list[datetime]:
    return list(islice(frequency_slots(frequency, anchor=anchor, after=after), count))


def frequency_count_between(
    frequency: str, *, anchor: datetime, start: datetime, end: datetime
) -> int:
    """How many slots fall in (start, end], at most MAX_COUNTED_SLOTS."""
    if end <= start:
        return 0
    if frequency in FIXED_PERIODS and start >= anchor:
        period = FIXED_PERIODS[frequency]
        return min(MAX_COUNTED_SLOTS, (end - anchor) // period - (start - anchor) // period)
    count = 0
    for slot in frequency_slots(frequency, anchor=anchor, after=start):
        if slot > end or count == MAX_COUNTED_SLOTS:
            break
        count += 1
    return count


def month_slot(anchor: datetime, *, months: int) -> datetime:
    """The anchor moved `months` calendar months on, its day clamped to the month's last day."""
    index = anchor.month - 1 + months
    year, month = anchor.year + index // 12, index % 12 + 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def _months_between(start: datetime, end: datetime) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def frequency_describe(frequency: str) -> str:
    """A short human description, for the admin."""
    if frequency in FIXED_PERIODS:
        return {"hourly": "every hour", "daily": "every day", "weekly": "every week"}[frequency]
    if frequency in MONTH_PERIODS:
        months = MONTH_PERIODS[frequency]
        every = {1: "every month", 12: "every year"}.get(months, f"every {months} months")
        return f"{every}, on the start day"
    try:
        return f"cron, UTC: {CronSim(frequency, datetime.now(UTC)).explain()}"
    except Exception:  # explain() is best effort: the expression itself was validated
        return f"cron, UTC: {frequency}"
