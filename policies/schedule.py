"""When a message may reach a reporter: quiet hours in the policy's time zone, and random jitter.

Pure functions of the policy and the time (randomness comes in as numbers in [0, 1)), so the rules are
tested without a clock or a scheduler.

Threat: a message at 3 a.m., or at exactly the same minute every week, draws the eye of whoever shares
the reporter's phone or home. Why jitter after the due time rather than around it: a check-in is never
early, and the spread hides the schedule.
"""

from __future__ import annotations

import calendar
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from policies.schema import QuietHours

_DAY = timedelta(days=1)


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def in_quiet_hours(moment: datetime, quiet: QuietHours) -> bool:
    """True if `moment` (timezone-aware) falls in the quiet hours, read in their time zone."""
    local = moment.astimezone(ZoneInfo(quiet.timezone)).time()
    start, end = _clock(quiet.start), _clock(quiet.end)
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def quiet_end(moment: datetime, quiet: QuietHours) -> datetime:
    """The first moment at or after `moment` outside the quiet hours."""
    if not in_quiet_hours(moment, quiet):
        return moment
    zone = ZoneInfo(quiet.timezone)
    local = moment.astimezone(zone)
    end = _clock(quiet.end)
    candidate = datetime.combine(local.date(), end, tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + _DAY, end, tzinfo=zone)
    return candidate.astimezone(moment.tzinfo)


def allowed_span(moment: datetime, quiet: QuietHours) -> timedelta:
    """How long from `moment` (outside quiet hours) until the next quiet hours begin."""
    if quiet.start == quiet.end:
        return _DAY
    zone = ZoneInfo(quiet.timezone)
    local = moment.astimezone(zone)
    start = datetime.combine(local.date(), _clock(quiet.start), tzinfo=zone)
    if start <= local:
        start = datetime.combine(local.date() + _DAY, _clock(quiet.start), tzinfo=zone)
    return start - local


def send_time(due: datetime, quiet: QuietHours, *, jitter: timedelta, draw: float) -> datetime:
    """When to send something due at `due`: a random moment (`draw` in [0, 1)) within `jitter` after the
    first allowed moment, kept inside the same allowed stretch so it never lands in quiet hours."""
    start = quiet_end(due, quiet)
    spread = min(jitter, allowed_span(start, quiet) - timedelta(minutes=1))
    return start + max(spread, timedelta(0)) * draw


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months later (the month's last day if it is shorter)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)
