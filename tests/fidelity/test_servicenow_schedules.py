"""Expansion of the simulator's repeating schedule spans, directly and through conflict detection."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.fidelity.test_servicenow_rules import chg, create
from tests.simulators.servicenow import harness, schedules


def utc(*parts):
    return datetime(*parts, tzinfo=timezone.utc)


def starts(span, low, high, tz_name=None):
    return [window_start for window_start, _window_end in schedules.span_windows(span, tz_name, low, high)]


# -- span_windows --------------------------------------------------------------------------------

def test_a_daily_span_begun_decades_ago_still_reaches_the_asked_range():
    span = {"start_date_time": "20000101T010000", "end_date_time": "20000101T030000", "repeat_type": "daily"}

    windows = schedules.span_windows(span, None, utc(2030, 6, 1, 0), utc(2030, 6, 2, 0))

    # 11,100 days after the first date: far more than MAX_OCCURRENCES steps from it
    assert windows == [(utc(2030, 6, 1, 1), utc(2030, 6, 1, 3))]


def test_a_jump_to_the_asked_range_keeps_the_repeat_count_and_weekday_rhythm():
    every_third_day = {"start_date_time": "20000101T010000", "end_date_time": "20000101T020000",
                       "repeat_type": "daily", "repeat_count": "3"}
    fortnightly_monday = {"start_date_time": "20000103T010000", "end_date_time": "20000103T020000",
                          "repeat_type": "weekly", "repeat_count": "2", "days_of_week": "1"}
    low, high = utc(2030, 6, 1), utc(2030, 6, 30)

    assert [moment.day for moment in starts(every_third_day, low, high)] == [
        day for day in range(1, 30) if (utc(2030, 6, day) - utc(2000, 1, 1)).days % 3 == 0]
    assert [moment.day for moment in starts(fortnightly_monday, low, high)] == [
        day for day in (3, 10, 17, 24) if (utc(2030, 6, day) - utc(2000, 1, 3)).days % 14 == 0]


def test_repeat_until_still_ends_an_old_span():
    span = {"start_date_time": "20000101T010000", "end_date_time": "20000101T020000", "repeat_type": "daily",
            "repeat_until": "20120101T000000"}

    assert schedules.span_windows(span, None, utc(2030, 6, 1), utc(2030, 6, 2)) == []
    assert starts(span, utc(2011, 12, 31), utc(2012, 1, 3)) == [utc(2011, 12, 31, 1), utc(2012, 1, 1, 1)]


def test_a_monthly_span_on_the_31st_skips_the_months_without_one():
    span = {"start_date_time": "20300131T220000", "end_date_time": "20300131T230000", "repeat_type": "monthly"}

    found = starts(span, utc(2030, 1, 1), utc(2030, 12, 31, 23, 59))

    assert [(moment.month, moment.day) for moment in found] == [(1, 31), (3, 31), (5, 31), (7, 31), (8, 31),
                                                                (10, 31), (12, 31)]
    assert schedules.span_windows(span, None, utc(2030, 4, 1), utc(2030, 4, 30, 23)) == []


def test_a_yearly_span_on_29_february_occurs_in_leap_years_only():
    span = {"start_date_time": "20280229T000000", "end_date_time": "20280229T235959", "repeat_type": "yearly"}

    assert [moment.year for moment in starts(span, utc(2028, 1, 1), utc(2037, 1, 1))] == [2028, 2032, 2036]
    assert starts(span, utc(2100, 2, 1), utc(2100, 3, 31)) == []  # 2100 is not a leap year


def test_a_monthly_span_in_a_time_zone_keeps_its_local_day():
    span = {"start_date_time": "20300131T003000", "end_date_time": "20300131T013000", "repeat_type": "monthly"}

    [(start, end)] = schedules.span_windows(span, "Europe/Paris", utc(2030, 3, 1), utc(2030, 4, 1))

    assert (start.astimezone(timezone.utc), end.astimezone(timezone.utc)) == (utc(2030, 3, 30, 23, 30),
                                                                              utc(2030, 3, 31, 0, 30))


# -- through conflict detection ------------------------------------------------------------------

def conflicts_of_a_change(api, ci, start, end):
    change = create(api, "change_request", short_description="span expansion", cmdb_ci=ci, start_date=start,
                    end_date=end)
    run = api.post(chg(api, f"/{change['sys_id']}/conflict"))
    assert run.status_code < 300, run.text
    return api.get(chg(api, f"/{change['sys_id']}/conflict")).json()["result"]


def blackout_on(api, ci_name, **span):
    blackout = create(api, "cmn_schedule_blackout", name=f"blackout for {ci_name}", condition=f"name={ci_name}")
    create(api, "cmn_schedule_span", schedule=blackout["sys_id"], name="span", **span)


@pytest.fixture(scope="module")
def servicenow_sim(tmp_path_factory):
    """This module's own instance behind the ``api`` fixture: the server and the conflict rows written
    here would upset the shared instance's tests, which count its servers and blackout conflicts."""
    running = harness.start(str(tmp_path_factory.mktemp("schedules-sim")))
    yield running
    assert running.stop() == 0


def test_conflict_detection_sees_an_old_daily_blackout_and_survives_a_monthly_one_on_the_31st(api):
    name = "web01"
    ci = create(api, "cmdb_ci_server", name=name)["sys_id"]
    blackout_on(api, name, start_date_time="20000101T010000", end_date_time="20000101T020000", repeat_type="daily")
    blackout_on(api, name, start_date_time="20300131T120000", end_date_time="20300131T130000",
                repeat_type="monthly")

    nightly = conflicts_of_a_change(api, ci, "2031-04-30 01:30:00", "2031-04-30 01:45:00")
    month_end = conflicts_of_a_change(api, ci, "2031-05-31 12:15:00", "2031-05-31 12:45:00")
    april = conflicts_of_a_change(api, ci, "2031-04-30 12:15:00", "2031-04-30 12:45:00")

    assert nightly["status"] == "Conflict" and [c["type"]["value"] for c in nightly["conflicts"]] == ["blackout"]
    assert month_end["status"] == "Conflict"
    assert [c["type"]["value"] for c in month_end["conflicts"]] == ["blackout"]
    assert april["status"] == "No Conflict" and april["conflicts"] == []
