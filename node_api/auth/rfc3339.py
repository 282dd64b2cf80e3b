"""RFC 3339 ``date-time`` parsing and formatting (timezone-aware only).

RFC 3339 section 5.6::

    date-time      = full-date "T" full-time
    full-date      = date-fullyear "-" date-month "-" date-mday
    full-time      = partial-time time-offset
    partial-time   = time-hour ":" time-minute ":" time-second [time-secfrac]
    time-secfrac   = "." 1*DIGIT
    time-offset    = "Z" / time-numoffset
    time-numoffset = ("+" / "-") time-hour ":" time-minute

"T" and "Z" may be lower case (ABNF literals are case-insensitive).
Limitations, each refused with :class:`ValueError` rather than guessed at:
leap seconds (``:60``) cannot be held by :class:`datetime.datetime`; fractions
finer than a microsecond are truncated to microseconds (not refused).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

__all__ = ["parse_rfc3339", "format_rfc3339", "utc_now"]

_DATE_TIME = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"[Tt]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})"
    r"(?:\.(?P<frac>[0-9]+))?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})",
    re.ASCII,
)


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(timezone.utc)


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 ``date-time`` into an aware :class:`datetime`.

    Raises :class:`ValueError` with a short reason when ``text`` is not one.
    """
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 date-time: {text!r}")
    if match["second"] == "60":
        raise ValueError("leap seconds are not supported")
    offset_text = match["offset"]
    if offset_text in ("Z", "z"):
        tz = timezone.utc
    else:
        sign = -1 if offset_text[0] == "-" else 1
        off_hours, off_minutes = int(offset_text[1:3]), int(offset_text[4:6])
        if off_hours > 23 or off_minutes > 59:
            raise ValueError(f"invalid UTC offset {offset_text!r}")
        delta = timedelta(hours=off_hours, minutes=off_minutes)
        tz = timezone.utc if not delta else timezone(sign * delta)
    frac = match["frac"] or ""
    microsecond = int(frac[:6].ljust(6, "0")) if frac else 0
    try:
        return datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            microsecond,
            tzinfo=tz,
        )
    except ValueError as exc:  # e.g. month 13, Feb 30, hour 24
        raise ValueError(f"invalid date-time {text!r}: {exc}") from None


def format_rfc3339(value: datetime) -> str:
    """Format an aware datetime as RFC 3339.

    UTC is written ``Z``; fractional seconds are omitted when zero, written
    with 3 digits when whole milliseconds (as JavaScript's ``toISOString``
    does) and with 6 otherwise.  Raises :class:`ValueError` for naive
    datetimes and for offsets that are not whole minutes.
    """
    offset = value.utcoffset()
    if offset is None:
        raise ValueError("datetime must be timezone-aware")
    if offset % timedelta(minutes=1):
        raise ValueError("UTC offset must be a whole number of minutes")
    text = (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    )
    if value.microsecond:
        if value.microsecond % 1000 == 0:
            text += f".{value.microsecond // 1000:03d}"
        else:
            text += f".{value.microsecond:06d}"
    if not offset:
        return text + "Z"
    total_minutes = int(offset.total_seconds()) // 60
    sign = "-" if total_minutes < 0 else "+"
    hours, minutes = divmod(abs(total_minutes), 60)
    if hours > 23:
        raise ValueError("UTC offset out of range")
    return f"{text}{sign}{hours:02d}:{minutes:02d}"
