"""A contact's time zone, and walking local wall-clock time across DST changes.

``resolve_timezone`` picks the zone from the first source that has one, in
this order: the contact's own preference, the message's
``timezone`` field, the email ``Date`` header's UTC offset, the phone
number's country (phonenumbers), the config default. It returns the zone
and a short phrase naming the source, which ends up in the send-time
explanation.

``OffsetTable`` maps local wall-clock seconds to UTC seconds over a span of
a few days with the zone's transitions found once, so the scheduler needs a
handful of zoneinfo calls per decision instead of one per candidate slot.
Non-existent local times (spring forward) move forward to the transition;
ambiguous ones (fall back) are taken once, at their first occurrence
(``fold=0``); the repeated hour's second pass is never produced.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers.timezone import time_zones_for_number

UTC = timezone.utc

# An email Date offset says how far from UTC the sender's clock was, not
# where they are. For each offset, representative zones in order of the
# population they cover; the first whose offset *at the message's moment*
# matches wins (so "+01:00" is Europe/Berlin in January and Europe/London in
# July). No match → a fixed-offset zone, which never changes with DST.
OFFSET_ZONES: dict[int, tuple[str, ...]] = {
    -660: ("Pacific/Pago_Pago",), -600: ("Pacific/Honolulu", "America/Adak"), -570: ("Pacific/Marquesas",),
    -540: ("America/Anchorage",), -480: ("America/Los_Angeles", "America/Anchorage"),
    -420: ("America/Denver", "America/Los_Angeles", "America/Phoenix"),
    -360: ("America/Chicago", "America/Mexico_City", "America/Denver"),
    -300: ("America/New_York", "America/Bogota", "America/Lima", "America/Chicago"),
    -240: ("America/New_York", "America/Caracas", "America/Santiago", "America/Halifax"),
    -210: ("America/St_Johns",), -180: ("America/Sao_Paulo", "America/Argentina/Buenos_Aires", "America/Halifax"),
    -150: ("America/St_Johns",), -120: ("America/Noronha",), -60: ("Atlantic/Azores", "Atlantic/Cape_Verde"),
    0: ("Europe/London", "UTC"), 60: ("Europe/Berlin", "Europe/London", "Africa/Lagos"),
    120: ("Europe/Berlin", "Africa/Cairo", "Africa/Johannesburg"), 180: ("Europe/Moscow", "Europe/Istanbul"),
    210: ("Asia/Tehran",), 240: ("Asia/Dubai",), 270: ("Asia/Kabul",), 300: ("Asia/Karachi",),
    330: ("Asia/Kolkata",), 345: ("Asia/Kathmandu",), 360: ("Asia/Dhaka",), 390: ("Asia/Yangon",),
    420: ("Asia/Jakarta", "Asia/Bangkok"), 480: ("Asia/Shanghai", "Asia/Singapore", "Australia/Perth"),
    525: ("Australia/Eucla",), 540: ("Asia/Tokyo",), 570: ("Australia/Adelaide", "Australia/Darwin"),
    600: ("Australia/Sydney", "Australia/Brisbane"), 630: ("Australia/Adelaide", "Australia/Lord_Howe"),
    660: ("Australia/Sydney", "Australia/Lord_Howe"), 720: ("Pacific/Auckland", "Pacific/Fiji"),
    765: ("Pacific/Chatham",), 780: ("Pacific/Auckland", "Pacific/Tongatapu"), 825: ("Pacific/Chatham",),
    840: ("Pacific/Kiritimati",),
}

# When phonenumbers lists several zones for a number (mobile ranges are not
# tied to a region), take the zone where most of the country lives; it must
# be among the listed zones, else the first listed one is taken.
COUNTRY_ZONES: dict[str, str] = {
    "US": "America/New_York", "CA": "America/Toronto", "BR": "America/Sao_Paulo", "AU": "Australia/Sydney",
    "RU": "Europe/Moscow", "MX": "America/Mexico_City", "ID": "Asia/Jakarta", "KZ": "Asia/Almaty",
    "AR": "America/Argentina/Buenos_Aires", "CL": "America/Santiago", "CD": "Africa/Kinshasa",
    "ES": "Europe/Madrid", "PT": "Europe/Lisbon", "EC": "America/Guayaquil", "MN": "Asia/Ulaanbaatar",
    "NZ": "Pacific/Auckland", "FR": "Europe/Paris", "GB": "Europe/London", "NL": "Europe/Amsterdam",
    "DK": "Europe/Copenhagen", "UA": "Europe/Kyiv", "CN": "Asia/Shanghai", "KI": "Pacific/Tarawa",
}
# phonenumbers still uses a few pre-2000s names; show the current ones.
LEGACY_NAMES = {"Asia/Calcutta": "Asia/Kolkata", "Asia/Katmandu": "Asia/Kathmandu", "Asia/Rangoon": "Asia/Yangon",
                "Asia/Saigon": "Asia/Ho_Chi_Minh", "Europe/Kiev": "Europe/Kyiv"}

_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


def zone_name(tz: tzinfo) -> str:
    key = getattr(tz, "key", None)
    return key if key else str(tz)


def load_zone(name: str) -> ZoneInfo:
    """A ZoneInfo for an IANA name; ValueError with a readable message otherwise."""
    try:
        return ZoneInfo(str(name).strip())
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"{name!r} is not an IANA time zone name (e.g. 'Europe/Berlin')") from None


def parse_offset(text: str) -> int:
    """Minutes east of UTC from "+01:00" / "-0530"."""
    match = _OFFSET.match(text.strip())
    if not match or int(match.group(3)) >= 60 or int(match.group(2)) > 14:
        raise ValueError(f"{text!r} is not a UTC offset like +01:00")
    minutes = int(match.group(2)) * 60 + int(match.group(3))
    return -minutes if match.group(1) == "-" else minutes


def zone_for_offset(minutes: int, at: datetime | None) -> tuple[tzinfo, str]:
    if at is not None:
        for name in OFFSET_ZONES.get(minutes, ()):
            zone = ZoneInfo(name)
            if at.astimezone(zone).utcoffset() == timedelta(minutes=minutes):
                return zone, name
    fixed = timezone(timedelta(minutes=minutes))
    return fixed, f"fixed {fixed} (no representative zone)"


def zone_for_phone(phone: str) -> tuple[ZoneInfo, str] | None:
    try:
        number = phonenumbers.parse(phone)
    except phonenumbers.NumberParseException:
        return None
    zones = [LEGACY_NAMES.get(z, z) for z in time_zones_for_number(number) if z != "Etc/Unknown"]
    if not zones:
        return None
    prefix = f"phone +{number.country_code}"
    if len(zones) == 1:
        return ZoneInfo(zones[0]), f"{prefix} → {zones[0]}"
    region = phonenumbers.region_code_for_number(number) or "?"
    preferred = COUNTRY_ZONES.get(region)
    if preferred in zones:
        return ZoneInfo(preferred), f"{prefix} ({region}) → {preferred} ({len(zones)} zones; chose the most populous)"
    return ZoneInfo(zones[0]), f"{prefix} ({region}) → {zones[0]} ({len(zones)} zones; first listed)"


def resolve_timezone(
    contact_tz: str | None, event_tz: str | None, date_offset: str | None, phone: str | None, default: str,
    *, at: datetime | None = None,
) -> tuple[tzinfo, str]:
    """The contact's zone and where it came from; see the module docstring for the order.

    ``at`` is the message's time, used to match an email offset against DST
    (without it an offset gives a fixed-offset zone). A source holding an
    unusable value (an unknown zone name, a malformed offset) is skipped.
    """
    for value, source in ((contact_tz, "contact preference"), (event_tz, "from the message")):
        if value:
            try:
                return load_zone(value), source
            except ValueError:
                pass
    if date_offset:
        try:
            zone, name = zone_for_offset(parse_offset(date_offset), at)
            return zone, f"email Date offset {date_offset} → {name}"
        except ValueError:
            pass
    if phone:
        found = zone_for_phone(phone)
        if found is not None:
            return found
    return load_zone(default), f"default {default}"


_INF = 1 << 62
_STEP = 6 * 3600  # no zone changes its offset twice within 6 hours


def _offset_at(tz: tzinfo, u: int) -> int:
    return int(datetime.fromtimestamp(u, tz).utcoffset().total_seconds())  # type: ignore[union-attr]


@lru_cache(maxsize=4096)
def _segments(tz: tzinfo, first_day: int, last_day: int) -> tuple[tuple[int, int], ...]:
    """((start, offset), …) covering UTC days first_day-1 … last_day+1; first start is -inf."""
    lo, hi = (first_day - 1) * 86400, (last_day + 2) * 86400
    prev = _offset_at(tz, lo)
    segs = [(-_INF, prev)]
    u = lo
    while u < hi:
        nxt = min(u + _STEP, hi)
        off = _offset_at(tz, nxt)
        if off != prev:
            a, b = u, nxt  # offset(a) == prev, offset(b) != prev: bisect to the second
            while b - a > 1:
                mid = (a + b) // 2
                if _offset_at(tz, mid) == prev:
                    a = mid
                else:
                    b = mid
            segs.append((b, off))
            prev = off
        u = nxt
    return tuple(segs)


class OffsetTable:
    """UTC ↔ local wall-clock seconds for one zone over [start, end] (UTC epoch seconds)."""

    __slots__ = ("segs", "repeats")

    def __init__(self, tz: tzinfo, start: int, end: int) -> None:
        self.segs = _segments(tz, start // 86400, end // 86400)
        # UTC spans of each fall-back's second pass through the repeated local times:
        # ``to_utc`` never returns a time inside them, and a local range must skip them.
        self.repeats = tuple((t, t + prev - off) for (_, prev), (t, off) in zip(self.segs, self.segs[1:]) if off < prev)

    def to_local(self, u: int) -> int:
        off = self.segs[0][1]
        for start, o in self.segs:
            if start > u:
                break
            off = o
        return u + off

    def to_utc(self, m: int) -> int:
        """Local wall seconds → UTC; a time in a gap → the transition; an ambiguous one → fold=0."""
        segs = self.segs
        last = len(segs) - 1
        for i, (start, off) in enumerate(segs):
            end = segs[i + 1][0] if i < last else _INF
            if m < end + off:
                return max(m - off, start)
        return m - segs[-1][1]  # unreachable: the last segment is open-ended
