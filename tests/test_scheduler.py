"""The send-time scheduler (issue 4): time zones, DST, rules, history, windows; and `contacts set/show`."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from autopilot_cli.cli import app
from autopilot_cli.clock import FixedClock, to_iso
from autopilot_cli.config import config_from_dict, load_config
from autopilot_cli.errors import ConfigError
from autopilot_cli.inbound import ingest_bytes
from autopilot_cli.scheduling._planner import (
    Preferences,
    default_rules,
    hour_of_week_profile,
    parse_days,
    parse_dnd_until,
    parse_hours,
    plan_send_time,
    resolve_timezone,
    smoothed_profile,
)
from autopilot_cli.scheduling.rules import day_intervals, format_days, format_hours
from autopilot_cli.scheduling.timezones import OffsetTable
from autopilot_cli.secrets import Secrets

from .conftest import NOW

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def rules(channel: str = "email", **changes):
    return dataclasses.replace(default_rules(channel), **{"jitter_seconds": 0, **changes})


def plan(*, now, tz=BERLIN, channel="email", received_at=None, prefs=None, history=(), channel_profile=None,
         window_closes=None, last_send=None, min_delay=timedelta(seconds=60), holidays=(), seed="e1",
         rule_holidays=frozenset(), **rule_changes):
    return plan_send_time(
        now=now, received_at=received_at or now - timedelta(hours=3), channel=channel, tz=tz,
        tz_source="test", prefs=prefs or Preferences(),
        rules=rules(channel, holidays=rule_holidays, **rule_changes),
        contact_history=list(history), channel_profile=channel_profile or [0.0] * 168,
        window_closes=window_closes, last_send_to_contact=last_send, min_delay=min_delay,
        holidays=set(holidays), seed=seed,
    )


def local(p, tz=BERLIN) -> datetime:
    assert p.send_at is not None, p.explanation
    return p.send_at.astimezone(tz)


# --- time zone resolution --------------------------------------------------


@pytest.mark.parametrize("args, at, zone, source", [
    (("Asia/Tokyo", "Europe/Paris", "+01:00", "+4915123456789"), None, "Asia/Tokyo", "contact preference"),
    ((None, "Europe/Paris", "+01:00", "+4915123456789"), None, "Europe/Paris", "from the message"),
    (("Mars/Olympus", "Europe/Paris", None, None), None, "Europe/Paris", "from the message"),
    ((None, None, "+01:00", "+4915123456789"), utc(2026, 1, 15, 12), "Europe/Berlin",
     "email Date offset +01:00 → Europe/Berlin"),
    # In July Berlin is +02:00: the +01:00 sender is on British summer time.
    ((None, None, "+01:00", None), utc(2026, 7, 15, 12), "Europe/London", "email Date offset +01:00 → Europe/London"),
    ((None, None, "+0530", None), utc(2026, 7, 15, 12), "Asia/Kolkata", "email Date offset +0530 → Asia/Kolkata"),
    ((None, None, "+12:45", None), utc(2026, 7, 15, 12), "Pacific/Chatham", "→ Pacific/Chatham"),
    ((None, None, "+13:45", None), utc(2026, 1, 15, 12), "Pacific/Chatham", "→ Pacific/Chatham"),
    ((None, None, "-04:00", None), utc(2026, 7, 15, 12), "America/New_York", "→ America/New_York"),
    ((None, None, None, "+4915123456789"), None, "Europe/Berlin", "phone +49 → Europe/Berlin"),
    ((None, None, None, "+919812345678"), None, "Asia/Kolkata", "phone +91 → Asia/Kolkata"),
    ((None, None, None, None), None, "America/Chicago", "default America/Chicago"),
])
def test_timezone_from_each_source(args, at, zone, source) -> None:
    tz, why = resolve_timezone(*args, "America/Chicago", at=at)
    assert tz.key == zone
    assert source in why


def test_email_offset_without_a_match_or_a_moment_is_a_fixed_offset() -> None:
    tz, why = resolve_timezone(None, None, "+03:17", None, "UTC", at=utc(2026, 1, 1))
    assert tz.utcoffset(None) == timedelta(hours=3, minutes=17) and "fixed" in why
    tz, _ = resolve_timezone(None, None, "+01:00", None, "UTC")
    assert tz.utcoffset(None) == timedelta(hours=1)


@pytest.mark.parametrize("phone, zone, count", [
    ("+79161234567", "Europe/Moscow", "16 zones"),     # Russian mobiles are not tied to a region
    ("+61412345678", "Australia/Sydney", "8 zones"),   # so are Australian ones
    ("+18005551234", "America/New_York", "zones"),     # a toll-free number spans North America
])
def test_multi_zone_country_picks_the_most_populous_and_says_so(phone, zone, count) -> None:
    tz, why = resolve_timezone(None, None, None, phone, "UTC")
    assert tz.key == zone
    assert count in why and "most populous" in why


def test_multi_zone_country_without_a_preference_takes_the_first_listed(monkeypatch) -> None:
    from autopilot_cli.scheduling import timezones

    monkeypatch.delitem(timezones.COUNTRY_ZONES, "RU")
    tz, why = resolve_timezone(None, None, None, "+79161234567", "UTC")
    assert tz.key == "Asia/Almaty" and "first listed" in why


# --- parsers -----------------------------------------------------------------


def test_parsers_accept_the_documented_forms() -> None:
    assert parse_hours("09-18") == (9 * 3600, 18 * 3600)
    assert parse_hours("22-08") == (22 * 3600, 8 * 3600)
    assert parse_hours("9:30-17:45") == (9 * 3600 + 1800, 17 * 3600 + 2700)
    assert parse_hours("00-24") == (0, 86400)
    assert parse_days("mon-fri") == frozenset(range(5))
    assert parse_days("Mon,Wed,Friday") == frozenset({0, 2, 4})
    assert parse_days("fri-mon") == frozenset({4, 5, 6, 0})
    assert format_days(parse_days("sun,mon-wed,sat")) == "mon-wed,sat-sun"
    assert format_hours(parse_hours("9-18")) == "09-18"
    assert parse_dnd_until("2026-12-01") == utc(2026, 12, 1)
    assert parse_dnd_until("2026-12-01T09:00+01:00") == utc(2026, 12, 1, 8)
    assert day_intervals(parse_hours("00-24"), parse_hours("22-08")) == ((8 * 3600, 22 * 3600),)
    assert day_intervals(parse_hours("20-10"), parse_hours("23-07")) == ((7 * 3600, 10 * 3600), (20 * 3600, 23 * 3600))


@pytest.mark.parametrize("call, message", [
    (lambda: parse_hours("9 to 5"), "not an hour range"),
    (lambda: parse_hours("25-08"), "above 24"),
    (lambda: parse_hours("08-08"), "same time"),
    (lambda: parse_days("mon-fir"), "unknown day 'fir'"),
    (lambda: parse_days(""), "empty"),
    (lambda: parse_dnd_until("next week"), "not a date"),
    (lambda: Preferences(timezone="Europe/Berlinn"), "not an IANA time zone"),
    (lambda: Preferences(quiet_hours="late"), "not an hour range"),
    (lambda: Preferences(dnd_until=datetime(2026, 1, 1)), "timezone-aware"),
])
def test_bad_strings_raise_value_error_with_an_example(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# --- DST -----------------------------------------------------------------------


def test_new_york_spring_forward_gap_moves_forward() -> None:
    # 2026-03-08 02:00 EST → 03:00 EDT: 02:30 does not exist that night.
    ny = ZoneInfo("America/New_York")
    p = plan(now=utc(2026, 3, 8, 6), tz=ny, prefs=Preferences(allowed_hours="02:30-04", allowed_days="sun"))
    assert p.send_at == utc(2026, 3, 8, 7)
    assert local(p, ny).strftime("%H:%M %Z") == "03:00 EDT"


def test_lord_howe_thirty_minute_spring_forward() -> None:
    # 2026-10-04 02:00 +10:30 → 02:30 +11:00: of the 02-03 hour only 02:30-03:00 exists.
    lh = ZoneInfo("Australia/Lord_Howe")
    p = plan(now=utc(2026, 10, 3, 12), tz=lh, prefs=Preferences(allowed_hours="02-03", allowed_days="sun"))
    assert p.send_at == utc(2026, 10, 3, 15, 30)
    assert local(p, lh).strftime("%H:%M") == "02:30" and local(p, lh).utcoffset() == timedelta(hours=11)


def test_chatham_spring_forward_from_12_45_to_13_45() -> None:
    # 2026-09-27 02:45 +12:45 → 03:45 +13:45.
    ch = ZoneInfo("Pacific/Chatham")
    p = plan(now=utc(2026, 9, 26, 10), tz=ch, prefs=Preferences(allowed_hours="03-05", allowed_days="sun"))
    assert p.send_at == utc(2026, 9, 26, 14)
    assert local(p, ch).strftime("%H:%M") == "03:45"


@pytest.mark.parametrize("zone, day, repeated_utc", [
    ("Europe/London", date(2026, 10, 25), (utc(2026, 10, 25, 1), utc(2026, 10, 25, 2))),
    ("America/New_York", date(2026, 11, 1), (utc(2026, 11, 1, 6), utc(2026, 11, 1, 7))),
    ("Australia/Lord_Howe", date(2026, 4, 5), (utc(2026, 4, 4, 15), utc(2026, 4, 4, 15, 30))),
    ("Pacific/Chatham", date(2026, 4, 5), (utc(2026, 4, 4, 14), utc(2026, 4, 4, 15))),
])
def test_fall_back_hour_is_taken_once(zone, day, repeated_utc) -> None:
    tz = ZoneInfo(zone)
    start = int(datetime.combine(day, datetime.min.time(), UTC).timestamp())
    table = OffsetTable(tz, start - 86400, start + 2 * 86400)
    mapped = [table.to_utc(start + m * 60) for m in range(24 * 60)]
    assert mapped == sorted(mapped)
    lo, hi = (int(x.timestamp()) for x in repeated_utc)  # the second pass through the repeated local times
    assert not [u for u in mapped if lo <= u < hi]
    for m, u in enumerate(mapped):  # every instant reads back as the local time asked for (fold=0)
        assert datetime.fromtimestamp(u, tz).replace(tzinfo=None) == datetime.fromtimestamp(
            start + m * 60, UTC
        ).replace(tzinfo=None)


def test_fall_back_slot_in_the_second_pass_waits_for_next_week() -> None:
    # London 2026-10-25: 01:00-02:00 happens twice. At 01:10 GMT (second pass) the
    # 01-02 slot was already used by the first pass: the next one is a week later.
    ldn = ZoneInfo("Europe/London")
    prefs = Preferences(allowed_hours="01-02", allowed_days="sun")
    first = plan(now=utc(2026, 10, 24, 23, 30), tz=ldn, prefs=prefs)
    assert first.send_at == utc(2026, 10, 25, 0) and local(first, ldn).utcoffset() == timedelta(hours=1)
    second = plan(now=utc(2026, 10, 25, 1, 10), tz=ldn, prefs=prefs)
    assert second.send_at == utc(2026, 11, 1, 1)


def test_chatham_fall_back_repeats_part_of_an_hour_bin() -> None:
    # 2026-04-05 03:45 +13:45 → 02:45 +12:45: local 03:00-03:45 happens twice, 03:45-04:00 once.
    ch = ZoneInfo("Pacific/Chatham")
    prefs = Preferences(allowed_hours="03-04", allowed_days="sun")
    first = plan(now=utc(2026, 4, 4, 13), tz=ch, prefs=prefs, jitter_seconds=3600, seed="j8")  # jitter 3054 s, clipped
    assert utc(2026, 4, 4, 13, 15) <= first.send_at < utc(2026, 4, 4, 14)  # first pass, jitter kept inside it
    second = plan(now=utc(2026, 4, 4, 14, 10), tz=ch, prefs=prefs)  # 03:10 again, in the second pass
    assert second.send_at == utc(2026, 4, 4, 15) and local(second, ch).strftime("%H:%M") == "03:45"


def test_kolkata_half_hour_offset_without_dst() -> None:
    ist = ZoneInfo("Asia/Kolkata")
    p = plan(now=utc(2026, 3, 9, 2), tz=ist)  # Monday 07:30 IST, email allowed from 08:00
    assert p.send_at == utc(2026, 3, 9, 2, 30)
    assert p.explanation.startswith("Mon 08:00 Asia/Kolkata: ")


# --- rules ---------------------------------------------------------------------


def test_quiet_hours_across_midnight_hold_a_live_reply_until_morning() -> None:
    now = utc(2026, 11, 24, 22)  # Tue 23:00 Berlin
    p = plan(now=now, channel="whatsapp", received_at=now - timedelta(minutes=2),
             prefs=Preferences(allowed_hours="00-24", quiet_hours="22-08"), window_closes=now + timedelta(hours=24))
    assert local(p).strftime("%a %H:%M") == "Wed 08:00"
    assert p.live and "live conversation, first allowed time" in p.explanation and "quiet 22-08" in p.explanation


def test_window_closing_inside_quiet_hours_takes_the_best_slot_before_it() -> None:
    received = utc(2026, 11, 24, 21, 30)  # Tue 22:30 Berlin; window closes Wed 22:30, inside quiet 22-08
    habit = [utc(2026, 11, 5, 8, 10) + timedelta(weeks=k) for k in range(3)] * 4  # Thu 09:xx Berlin
    prefs = Preferences(allowed_hours="00-24", quiet_hours="22-08")
    p = plan(now=utc(2026, 11, 25, 19), channel="whatsapp", received_at=received, prefs=prefs, history=habit,
             window_closes=received + timedelta(hours=24))
    assert utc(2026, 11, 25, 19) <= p.send_at < utc(2026, 11, 25, 21)  # Wed 20:00-22:00 Berlin
    assert "inside WhatsApp window, which closes Wed 21:30 UTC" in p.explanation
    late = plan(now=utc(2026, 11, 25, 21, 10), channel="whatsapp", received_at=received, prefs=prefs, history=habit,
                window_closes=received + timedelta(hours=24))
    assert late.send_at is None and late.reason == "window_closed"
    assert "no allowed time before the WhatsApp window" in late.explanation


def test_never_a_slot_at_or_after_the_window() -> None:
    now = utc(2026, 11, 24, 19, 59, 50)  # Tue 20:59:50 Berlin; WhatsApp allowed until 21:00
    p = plan(now=now, channel="whatsapp", window_closes=now + timedelta(seconds=30), min_delay=timedelta(0),
             jitter_seconds=45, seed="x")
    assert p.send_at is not None and now <= p.send_at < now + timedelta(seconds=10)
    closed = plan(now=now, channel="whatsapp", window_closes=now - timedelta(seconds=1))
    assert closed.send_at is None and closed.reason == "window_closed"


def test_live_conversation_goes_soon_with_bounded_deterministic_jitter() -> None:
    now = utc(2026, 11, 24, 10)  # Tue 11:00 Berlin
    received = now - timedelta(minutes=1)
    times = set()
    for i in range(20):
        a = plan(now=now, channel="whatsapp", received_at=received, seed=f"event-{i}", jitter_seconds=45,
                 window_closes=received + timedelta(hours=24))
        b = plan(now=now, channel="whatsapp", received_at=received, seed=f"event-{i}", jitter_seconds=45,
                 window_closes=received + timedelta(hours=24))
        assert a == b and a.live
        soonest = received + timedelta(seconds=60)
        assert soonest <= a.send_at <= soonest + timedelta(seconds=45)
        times.add(a.send_at)
    assert len(times) > 5
    assert "live conversation (last message 1 min ago): reply soon, 60 s minimum delay" in a.explanation


def test_result_does_not_depend_on_the_wall_clock() -> None:
    args = dict(now=utc(2026, 11, 24, 10), channel="whatsapp", received_at=utc(2026, 11, 24, 9, 59), jitter_seconds=45)
    with freeze_time("2026-03-29 00:59:59"):
        a = plan(**args)
    with freeze_time("2030-01-01 12:00:00"):
        b = plan(**args)
    assert a == b


def test_history_pattern_beats_an_earlier_slot() -> None:
    # Writes Tuesdays 09:00-10:00 Berlin; asked on Monday 10:00: Tuesday 09:xx, not Monday 10:00.
    habit = [datetime(2026, 9, 1, 9, 5 + k, tzinfo=BERLIN) + timedelta(weeks=k) for k in range(10)]
    p = plan(now=utc(2026, 11, 23, 9), history=habit, jitter_seconds=180, seed="e42")
    when = local(p)
    assert (when.strftime("%a"), when.hour) == ("Tue", 9)
    assert "contact usually writes Tue 09–10 (10 of 10 messages)" in p.explanation
    assert p.explanation.startswith(when.strftime("%a %H:%M") + " Europe/Berlin: ")
    no_history = plan(now=utc(2026, 11, 23, 9))
    assert no_history.send_at == utc(2026, 11, 23, 9) and "earliest allowed time" in no_history.explanation


def test_shrinkage_follows_the_channel_with_little_history_and_the_contact_with_much() -> None:
    channel = [1.0] * 168
    channel[1 * 24 + 10] = 500.0  # the channel's busiest hour: Tue 10-11
    own = 6 * 24 + 15             # the contact's habit: Sun 15-16
    few, many = [0.0] * 168, [0.0] * 168
    few[own], many[own] = 2.0, 100.0
    p_few = smoothed_profile(few, channel, prior_strength=20)
    p_many = smoothed_profile(many, channel, prior_strength=20)
    assert max(range(168), key=p_few.__getitem__) == 1 * 24 + 10
    assert max(range(168), key=p_many.__getitem__) == own
    assert sum(p_few) == pytest.approx(1.0) and sum(p_many) == pytest.approx(1.0)
    q_own = (1 + 1) / (sum(channel) + 168)  # the channel shrunk toward uniform, one pseudo-count per hour
    assert p_many[own] == pytest.approx((100 + 20 * q_own) / 120)


def test_a_channel_with_little_data_does_not_make_replies_wait_for_its_hour() -> None:
    channel = [0.0] * 168
    channel[1 * 24 + 9] = 3.0  # three emails ever, all on Tuesday 09-10
    p = smoothed_profile([0.0] * 168, channel, prior_strength=20)
    # Tuesday 09-10 is preferred, but by a factor of 4, not 10,000: a day's wait halves a
    # slot's score, so a reply due today does not wait a week for it.
    assert 3 < p[1 * 24 + 9] / p[0] < 5
    assert smoothed_profile([0.0] * 168, [0.0] * 168) == pytest.approx([1 / 168] * 168)


def test_hour_of_week_profile_uses_local_time() -> None:
    counts = hour_of_week_profile([utc(2026, 11, 23, 23, 30)], BERLIN)  # Tue 00:30 in Berlin
    assert counts[1 * 24 + 0] == 1.0 and sum(counts) == 1.0


def test_holidays_are_skipped() -> None:
    # Thu 24 and Fri 25 Dec are holidays, then a weekend: email waits for Monday 28th 08:00.
    p = plan(now=utc(2026, 12, 24, 6), holidays=[date(2026, 12, 24)], rule_holidays=frozenset({date(2026, 12, 25)}))
    assert local(p).strftime("%a %d %H:%M") == "Mon 28 08:00"


def test_min_gap_after_the_last_send_is_respected() -> None:
    now = utc(2026, 11, 24, 10)
    last = now - timedelta(seconds=2)
    p = plan(now=now, channel="whatsapp", received_at=now, min_delay=timedelta(0), last_send=last,
             window_closes=now + timedelta(hours=24))
    assert p.send_at == last + timedelta(seconds=6)
    assert "6 s after our last message" in p.explanation


def test_do_not_disturb_and_no_slot_in_the_horizon() -> None:
    now = utc(2026, 11, 24, 10)
    p = plan(now=now, prefs=Preferences(dnd_until=utc(2026, 11, 26, 12)))
    assert p.send_at == utc(2026, 11, 26, 12)
    none = plan(now=now, prefs=Preferences(dnd_until=utc(2027, 1, 1)))
    assert (
        none.send_at is None
        and none.reason == "no_allowed_slot"
        and "do not disturb until 2027-01-01" in none.explanation
    )


def test_schedule_config_overrides_and_errors(tmp_path) -> None:
    config = config_from_dict({"schedule": {"holidays": ["2026-12-25"], "delay_half_life_hours": 0,
                                            "channels": {"email": {"allowed_days": "mon-sat", "jitter_seconds": 5}}}})
    r = config.schedule.rules_for("email", min_gap_seconds=30)
    assert r.days == parse_days("mon-sat") and r.jitter_seconds == 5 and r.delay_half_life is None
    assert r.min_gap == timedelta(seconds=30) and date(2026, 12, 25) in r.holidays
    assert config.schedule.rules_for("whatsapp", 0.0).min_gap == timedelta(seconds=6)
    bad = tmp_path / "bad.toml"
    bad.write_text('[schedule.channels.email]\nallowed_hours = "9 to 5"\n')
    with pytest.raises(ConfigError, match="'schedule.channels.email.allowed_hours': '9 to 5' is not an hour range"):
        load_config(bad)
    bad.write_text('[schedule.channels.sms]\njitter_seconds = 1\n')
    with pytest.raises(ConfigError, match="unknown channel 'sms'"):
        load_config(bad)


# --- contacts set / show ----------------------------------------------------


@pytest.fixture
def db(tmp_path, store) -> str:
    records = [
        {"channel": "whatsapp", "id": "w1", "from": "4915123456789", "name": "Ana", "text": "hi",
         "received_at": to_iso(NOW)},
        {"channel": "email", "id": "e1", "from": "bo@example.org", "text": "hi", "received_at": to_iso(NOW)},
    ]
    data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    ingest_bytes(store, data, fmt="jsonl", config=config_from_dict({}), clock=FixedClock(NOW), secrets=Secrets({}))
    return store.path


@freeze_time("2026-11-25 12:00:00")
def test_contacts_set_and_show(runner, db) -> None:
    result = runner.invoke(app, ["--db", db, "contacts", "set", "+49 151 23456789", "--timezone", "Europe/Berlin",
                                 "--quiet-hours", "22-8", "--allowed-days", "Mon-Fri", "--dnd-until", "2026-12-01",
                                 "--preferred-channel", "email", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["quiet_hours"] == "22-08" and data["allowed_days"] == "mon-fri" and data["timezone"] == "Europe/Berlin"
    assert data["dnd_until"] == "2026-12-01T00:00:00.000Z" and data["updated_at"] == "2026-11-25T12:00:00.000Z"
    assert data["timezone_source"] == "contact preference" and data["name"] == "Ana"
    shown = runner.invoke(app, ["--db", db, "contacts", "show", "whatsapp:+4915123456789", "--json"])
    assert json.loads(shown.output) == data
    cleared = runner.invoke(app, ["--db", db, "contacts", "set", "#1", "--clear", "timezone", "--clear", "dnd-until",
                                  "--block", "--json"])
    after = json.loads(cleared.output)
    assert after["timezone"] is None and after["dnd_until"] is None and after["blocked"] is True
    assert after["effective_timezone"] == "Europe/Berlin" and after["timezone_source"] == "phone +49 → Europe/Berlin"
    human = runner.invoke(app, ["--db", db, "contacts", "show", "4915123456789"])
    assert human.exit_code == 0 and "22-08" in human.output and "blocked" in human.output
    audit = runner.invoke(app, ["--db", db, "status", "--json"])
    assert audit.exit_code == 0


@pytest.mark.parametrize("args, code, message", [
    (["set", "bo@example.org", "--timezone", "Europe/Berlinn"], 2, "'Europe/Berlinn' is not an IANA time zone"),
    (["set", "bo@example.org", "--quiet-hours", "late"], 2, "not an hour range"),
    (["set", "bo@example.org", "--allowed-days", "weekdays"], 2, "unknown day"),
    (["set", "bo@example.org", "--preferred-channel", "sms"], 2, "unknown channel 'sms'"),
    (["set", "bo@example.org", "--clear", "colour"], 2, "'colour' is not a preference"),
    (["set", "bo@example.org", "--timezone", "UTC", "--clear", "timezone"], 2, "both set and cleared"),
    (["set", "bo@example.org"], 2, "nothing to change"),
    (["set", "nobody@example.org", "--timezone", "UTC"], 1, "no contact with address 'nobody@example.org'"),
    (["show", "#99"], 1, "no contact with id 99"),
])
def test_contacts_errors(runner, db, args, code, message) -> None:
    result = runner.invoke(app, ["--db", db, "contacts", *args])
    assert result.exit_code == code, result.output
    assert message in result.output + result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_contacts_set_writes_one_audit_row(runner, db, store) -> None:
    assert (
        runner.invoke(app, ["--db", db, "contacts", "set", "bo@example.org", "--allowed-hours", "9-17"]).exit_code == 0
    )
    rows = store.query("SELECT actor, action, object_type, detail FROM audit_log WHERE action = 'contact_prefs'")
    assert len(rows) == 1 and json.loads(rows[0]["detail"]) == {"allowed_hours": "09-17"}
    assert store.scalar("SELECT allowed_hours FROM contacts WHERE id = 2") == "09-17"
