"""Freeze policy files: schema errors, window expansion (DST, midnight, month ends), scope, durations."""

import datetime as dt
import textwrap

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmValidationError
from ansible_collections.opsgate.itsm.plugins.module_utils._policy import (
    PolicyContext,
    Scope,
    build_policy,
    format_duration,
    load_policy,
    parse_duration,
)

UTC = dt.timezone.utc
ANY = PolicyContext()


def utc(*args):
    return dt.datetime(*args, tzinfo=UTC)


def write(tmp_path, text, name="freezes.yml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def spans(policy, start, end, context=ANY):
    return [(item.name, item.start, item.end) for item in policy.occurrences(start, end, context)]


def covers(policy, instant, context=ANY):
    return [item.name for item in policy.occurrences(instant, instant, context)]


def one(window, timezone="UTC"):
    return build_policy({"timezone": timezone, "windows": [dict(name="w", **window)]}, source="inline")


def problem(data_or_path):
    with pytest.raises(ItsmValidationError) as error:
        if isinstance(data_or_path, str):
            load_policy(data_or_path)
        else:
            build_policy(data_or_path, source="inline")
    return str(error.value)


# -- loading -----------------------------------------------------------------------------------------

def test_a_yaml_file_with_unquoted_times_and_dates_loads(tmp_path):
    path = write(tmp_path, """\
        version: 1
        timezone: Europe/Paris
        windows:
          - name: nightly
            weekly: {days: [mon, tuesday], start: 22:00, end: 06:00}
          - name: year-end
            reason: Year-end close
            start: 2026-12-20
            end: 2027-01-04T00:00
        """)
    policy = load_policy(path)
    assert [window.name for window in policy.windows] == ["nightly", "year-end"]
    nightly = policy.windows[0].recurrence
    assert (nightly.days, nightly.start_minute, nightly.end_minute) == ((0, 1), 22 * 60, 6 * 60)
    # A date without an offset is local to the policy timezone (CET in December).
    assert policy.windows[1].once == (utc(2026, 12, 19, 23), utc(2027, 1, 3, 23))
    assert policy.windows[1].source == path
    assert policy.windows[1].reason == "Year-end close"


def test_explicit_offsets_in_one_off_windows_win_over_the_timezone():
    policy = one(dict(start="2026-07-01T10:00:00Z", end="2026-07-01T15:00+02:00"), timezone="Asia/Tokyo")
    assert policy.windows[0].once == (utc(2026, 7, 1, 10), utc(2026, 7, 1, 13))


def test_inline_data_parsed_by_ansible_with_date_objects_is_accepted():
    policy = build_policy({"windows": [{"name": "d", "start": dt.date(2026, 12, 24),
                                        "end": dt.datetime(2026, 12, 27, 6, 0)}]}, source="policy_data")
    assert policy.windows[0].once == (utc(2026, 12, 24), utc(2026, 12, 27, 6))


# -- schema and semantic errors: file, path inside it, problem ------------------------------------------

def test_schema_errors_name_the_file_the_path_and_the_problem(tmp_path):
    path = write(tmp_path, """\
        windows:
          - name: weekend
            weekly: {days: [sunday2], start: 25:00}
            exempt_emergancy: true
          - name: month-end
            monthly: {days: [0]}
        """)
    message = problem(path)
    assert message.startswith(f"policy: {path!r} is not valid; ")
    assert "windows[0]: unknown key exempt_emergancy; allowed keys: end, exempt_emergency," in message
    assert "windows[0].weekly.days[0]: 'sunday2' is not allowed; expected one of: mon, tue" in message
    assert "windows[0].weekly.start: '25:00' is not valid; expected a time of day HH:MM" in message
    assert "windows[1].monthly.days[0]: 0 is not valid; expected a day of the month" in message


@pytest.mark.parametrize("data, expected", [
    ({}, "(top level): 'windows' is a required property"),
    ({"windows": {}}, "windows: {} is not of type 'array'"),
    ({"version": 2, "windows": []}, "version: 1 was expected"),
    ({"windows": [{"name": "n", "weekly": {"days": ["mon"], "start": 1320}}]},
     "windows[0].weekly.start: 1320 is a number; quote times of day, like '22:00'"),
    ({"windows": [{"name": "n", "scope": {"change_types": ["urgent"]}, "start": "2026-01-01", "end": "2026-01-02"}]},
     "windows[0].scope.change_types[0]: 'urgent' is not allowed; expected one of: normal, standard, emergency"),
    ({"timezone": "Mars/Olympus", "windows": []},
     "timezone: unknown timezone 'Mars/Olympus'; expected an IANA name"),
    ({"windows": [{"name": "n", "timezone": "Europe/Pariss", "start": "2026-01-01", "end": "2026-01-02"}]},
     "windows[0].timezone: unknown timezone 'Europe/Pariss'"),
    ({"windows": [{"name": "n", "start": "2026-01-01", "end": "2026-01-02"},
                  {"name": "n", "start": "2026-02-01", "end": "2026-02-02"}]},
     "windows[1].name: 'n' is used by an earlier window; names must be unique"),
    ({"windows": [{"name": "n", "start": "2026-01-01"}]},
     "windows[0]: a one-off window needs both start and end; end is missing"),
    ({"windows": [{"name": "n", "start": "2026-01-02", "end": "2026-01-01"}]},
     "windows[0].end: '2026-01-01' is not after the start '2026-01-02'"),
    ({"windows": [{"name": "n", "start": "next friday", "end": "2026-01-01"}]},
     "windows[0].start: 'next friday' is not an ISO 8601 date"),
    ({"windows": [{"name": "n", "weekly": {"days": ["mon"]}, "start": "2026-01-01", "end": "2026-01-02"}]},
     "windows[0]: give exactly one of start/end (one-off), weekly or monthly; found weekly and start/end"),
    ({"windows": [{"name": "n"}]},
     "windows[0]: give exactly one of start/end (one-off), weekly or monthly; found none"),
    ({"windows": [{"name": "n", "weekly": {"days": ["mon"], "end": "06:00", "duration": "2h"}}]},
     "windows[0].weekly: give end or duration, not both"),
    ({"windows": [{"name": "n", "weekly": {"days": ["mon"], "duration": "soon"}}]},
     "windows[0].weekly.duration: 'soon' is not valid; expected a positive duration"),
    ({"windows": [{"name": "n", "weekly": {"days": ["mon"], "start": "24:00"}}]},
     "windows[0].weekly.start: '24:00' is only allowed as an end"),
])
def test_invalid_policies_are_refused_with_path_and_problem(data, expected):
    message = problem(data)
    assert message.startswith("policy_data: 'inline' is not valid; ")
    assert expected in message


def test_yaml_syntax_errors_give_line_and_column(tmp_path):
    path = write(tmp_path, "windows:\n  - name: a\n    start: [2026\n")
    message = problem(path)
    assert path in message and "not valid YAML" in message and "line 4, column 1" in message


def test_a_missing_or_empty_file_is_named(tmp_path):
    assert "the file cannot be read (No such file or directory)" in problem(str(tmp_path / "nope.yml"))
    assert "the file is empty" in problem(write(tmp_path, ""))


def test_unsafe_yaml_tags_are_refused(tmp_path):
    path = write(tmp_path, "windows: !!python/object/apply:os.system ['true']\n")
    assert "not valid YAML" in problem(path)


# -- expansion ---------------------------------------------------------------------------------------

def test_a_weekly_window_spanning_midnight_covers_the_small_hours_of_the_next_day():
    policy = one(dict(weekly=dict(days=["fri"], start="22:00", end="06:00")))
    assert covers(policy, utc(2026, 6, 5, 21, 59)) == []  # Friday
    assert covers(policy, utc(2026, 6, 5, 22, 0)) == ["w"]
    assert covers(policy, utc(2026, 6, 6, 3, 0)) == ["w"]  # Saturday, started the day before
    assert covers(policy, utc(2026, 6, 6, 6, 0)) == []  # the end is exclusive
    assert covers(policy, utc(2026, 6, 6, 22, 30)) == []  # Saturday is not a start day


def test_a_nightly_window_across_spring_forward_is_one_hour_shorter():
    policy = one(dict(weekly=dict(days=["sat"], start="22:00", end="06:00")), timezone="Europe/Paris")
    found = spans(policy, utc(2026, 3, 28), utc(2026, 3, 29, 12))
    # 22:00 CET Saturday to 06:00 CEST Sunday: seven hours, not eight.
    assert found == [("w", utc(2026, 3, 28, 21), utc(2026, 3, 29, 4))]


def test_a_nightly_window_across_fall_back_is_one_hour_longer():
    policy = one(dict(weekly=dict(days=["sat"], start="22:00", end="06:00")), timezone="Europe/Paris")
    found = spans(policy, utc(2026, 10, 24), utc(2026, 10, 25, 12))
    assert found == [("w", utc(2026, 10, 24, 20), utc(2026, 10, 25, 5))]


def test_a_start_inside_the_spring_forward_gap_is_read_conservatively():
    # 02:30 does not exist in Paris on 2026-03-29; the window starts at the earlier reading.
    policy = one(dict(weekly=dict(days=["sun"], start="02:30", end="04:00")), timezone="Europe/Paris")
    expected = [("w", utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 2))]
    assert spans(policy, utc(2026, 3, 29), utc(2026, 3, 29, 6)) == expected


def test_an_ambiguous_fall_back_time_starts_at_its_first_reading_and_ends_at_its_last():
    policy = one(dict(weekly=dict(days=["sun"], start="02:00", end="02:30")), timezone="Europe/Paris")
    # 02:00 first happens at 00:00Z (CEST); 02:30 last happens at 01:30Z (CET).
    assert spans(policy, utc(2026, 10, 25), utc(2026, 10, 25, 6)) == [("w", utc(2026, 10, 25, 0),
                                                                       utc(2026, 10, 25, 1, 30))]


def test_a_duration_counts_elapsed_time_across_days_and_dst():
    policy = one(dict(weekly=dict(days=["fri"], start="18:00", duration="2d12h")), timezone="Europe/Paris")
    found = spans(policy, utc(2026, 3, 27), utc(2026, 3, 31))
    assert found == [("w", utc(2026, 3, 27, 17), utc(2026, 3, 30, 5))]
    assert covers(policy, utc(2026, 3, 29, 12)) == ["w"]


def test_whole_days_by_default_and_monthly_last_day():
    policy = one(dict(monthly=dict(days=[-1])), timezone="UTC")
    found = spans(policy, utc(2026, 1, 15), utc(2026, 4, 15))
    assert [start for name, start, end in found] == [utc(2026, 1, 31), utc(2026, 2, 28), utc(2026, 3, 31)]
    assert all(end - start == dt.timedelta(days=1) for name, start, end in found)


def test_a_monthly_day_a_month_lacks_is_skipped_that_month():
    policy = one(dict(monthly=dict(days=[31], start="08:00", end="09:00")))
    found = spans(policy, utc(2026, 3, 1), utc(2026, 6, 1))
    assert [start.date() for name, start, end in found] == [dt.date(2026, 3, 31), dt.date(2026, 5, 31)]


def test_occurrences_are_sorted_and_limited_to_the_range():
    policy = build_policy({"windows": [
        {"name": "b", "start": "2026-05-02T00:00Z", "end": "2026-05-03T00:00Z"},
        {"name": "a", "start": "2026-05-01T00:00Z", "end": "2026-05-04T00:00Z"},
        {"name": "later", "start": "2026-06-01T00:00Z", "end": "2026-06-02T00:00Z"},
    ]}, source="inline")
    assert [found[0] for found in spans(policy, utc(2026, 5, 1, 12), utc(2026, 5, 10))] == ["a", "b"]


# -- scope -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scope, context, applies", [
    (Scope(environments=("prod",)), PolicyContext(environment="PROD"), True),
    (Scope(environments=("prod",)), PolicyContext(environment="staging"), False),
    (Scope(environments=("prod",)), PolicyContext(), True),  # unknown environment: fail closed
    (Scope(ci_patterns=("db-*",)), PolicyContext(ci_names=("web01", "DB-02")), True),
    (Scope(ci_patterns=("db-*",)), PolicyContext(ci_names=("web01",)), False),
    (Scope(ci_patterns=("db-*",)), PolicyContext(), True),
    (Scope(change_types=("normal",)), PolicyContext(change_type="standard"), False),
    (Scope(change_types=("normal",)), PolicyContext(change_type="normal"), True),
    (Scope(environments=("prod",), change_types=("normal",)),
     PolicyContext(environment="prod", change_type="standard"), False),
])
def test_scope_matching(scope, context, applies):
    assert scope.matches(context) is applies


def test_emergency_changes_skip_exempting_windows_only():
    policy = build_policy({"windows": [
        {"name": "soft", "exempt_emergency": True, "start": "2026-05-01T00:00Z", "end": "2026-05-02T00:00Z"},
        {"name": "hard", "start": "2026-05-01T00:00Z", "end": "2026-05-02T00:00Z"},
    ]}, source="inline")
    instant = utc(2026, 5, 1, 12)
    assert covers(policy, instant, PolicyContext(change_type="emergency")) == ["hard"]
    assert covers(policy, instant, PolicyContext(change_type="normal")) == ["hard", "soft"]


# -- durations ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, seconds", [
    (90, 90.0), (1.5, 1.5), ("90", 90.0), ("10m", 600.0), ("1h30m", 5400.0), ("2d", 172800.0),
    ("1d2h3m4s", 93784.0), (" 4m 10s ", 250.0), ("0", 0.0), ("2.5", 2.5),
])
def test_parse_duration(value, seconds):
    assert parse_duration(value, "early_start") == seconds


@pytest.mark.parametrize("value", ["", "ten minutes", "-5", -1, True, "5x"])
def test_parse_duration_refuses_nonsense_naming_the_option(value):
    with pytest.raises(ItsmValidationError) as error:
        parse_duration(value, "early_start")
    assert error.value.details["option"] == "early_start"


@pytest.mark.parametrize("seconds, text", [
    (0, "0s"), (45, "45s"), (250, "4m10s"), (600, "10m"), (3600, "1h00m"), (7500, "2h05m"),
    (86400, "1d"), (273600, "3d4h"), (-90, "1m30s"),
])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text
