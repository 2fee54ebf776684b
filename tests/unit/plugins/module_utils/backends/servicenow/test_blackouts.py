# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ServiceNow blackouts: span expansion (pure), then scope, paging and conflicts against a private simulator."""

from __future__ import annotations

import datetime as dt

from ansible_collections.opsgate.itsm.plugins.module_utils._gate import GateOptions
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.servicenow import blackouts, query, schedules
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import change_gate
from tests.unit.plugins.module_utils.backends import sn_private

# The private simulator's fixtures, by name, for the tests below.
backend = sn_private.backend
instance = sn_private.instance

UTC = dt.timezone.utc


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def windows(span, low, high, zone=None):
    return [(opens.strftime("%Y-%m-%d %H:%M"), closes.strftime("%Y-%m-%d %H:%M"))
            for opens, closes in schedules.span_windows(span, zone, low, high)]


# -- expansion ---------------------------------------------------------------------------------

def test_a_daily_blackout_set_up_a_decade_ago_still_covers_today():
    span = {"start_date_time": "20150101T220000", "end_date_time": "20150101T230000", "repeat_type": "daily"}
    assert windows(span, utc(2026, 11, 24), utc(2026, 11, 25)) == [("2026-11-24 22:00", "2026-11-24 23:00")]


def test_every_other_day_keeps_its_rhythm_after_the_jump():
    span = {"start_date_time": "20100101T000000", "end_date_time": "20100101T010000", "repeat_type": "daily",
            "repeat_count": "2"}
    found = windows(span, utc(2026, 11, 23), utc(2026, 11, 27))
    # 2010-01-01 + 2 * n days lands on odd day counts: 2026-11-23 is day 6170 (even), so the 23rd, 25th.
    assert found == [("2026-11-23 00:00", "2026-11-23 01:00"), ("2026-11-25 00:00", "2026-11-25 01:00")]


def test_a_weekly_blackout_from_2012_falls_on_its_weekday_in_local_time():
    span = {"start_date_time": "20120103T230000", "end_date_time": "20120104T010000", "repeat_type": "weekly",
            "days_of_week": "2"}
    found = windows(span, utc(2026, 11, 23), utc(2026, 11, 30), zone="Europe/Paris")
    assert found == [("2026-11-24 22:00", "2026-11-25 00:00")]


def test_a_monthly_blackout_on_the_31st_skips_the_months_without_one():
    span = {"start_date_time": "20260131T020000", "end_date_time": "20260131T040000", "repeat_type": "monthly"}
    found = windows(span, utc(2026, 2, 1), utc(2026, 6, 1))
    assert found == [("2026-03-31 02:00", "2026-03-31 04:00"), ("2026-05-31 02:00", "2026-05-31 04:00")]


def test_a_yearly_blackout_on_29_february_happens_in_leap_years_only():
    span = {"start_date_time": "20000229T000000", "end_date_time": "20000229T120000", "repeat_type": "yearly",
            "repeat_until": "20300101T000000"}
    found = windows(span, utc(2025, 1, 1), utc(2035, 1, 1))
    assert found == [("2028-02-29 00:00", "2028-02-29 12:00")]


def test_a_one_off_span_and_garbage_repeat_counts_do_not_raise():
    span = {"start_date_time": "20261224T000000", "end_date_time": "20261226T000000", "repeat_count": "often"}
    assert windows(span, utc(2026, 12, 1), utc(2027, 1, 1)) == [("2026-12-24 00:00", "2026-12-26 00:00")]
    assert windows(span, utc(2027, 1, 1), utc(2027, 2, 1)) == []


def test_a_condition_is_restricted_in_every_new_query_group():
    assert query.scoped_condition("environment=Production^ORname=db01^NQnameSTARTSWITHora", "nameINweb01") == (
        "environment=Production^ORname=db01^nameINweb01^NQnameSTARTSWITHora^nameINweb01")


# -- against the simulator ---------------------------------------------------------------------


def requests_since(instance, mark: int) -> list[dict]:
    return [item for item in instance.sim.admin("GET", "requests")["requests"] if item["seq"] > mark]


def last_seq(instance) -> int:
    logged = instance.sim.admin("GET", "requests")["requests"]
    return logged[-1]["seq"] if logged else 0


def mine(found, name):
    return [(item["start"], item["end"], item["source"]) for item in found if item["name"] == name]


def test_a_scoped_blackout_blocks_only_the_changes_whose_cis_match(instance, backend):
    instance.blackout("DB freeze", [{"start_date_time": "20300105T000000", "end_date_time": "20300106T000000"}],
                      applies_to="cmdb_ci_linux_server", condition="nameSTARTSWITHdb")
    web = backend.create("change", {"short_description": "web", "configuration_items": ["web01"]})
    db = backend.create("change", {"short_description": "db", "configuration_items": ["db01", "web02"]})
    mark = last_seq(instance)

    for_web = backend.blackouts("2030-01-01T00:00:00Z", "2030-01-10T00:00:00Z", web)
    assert len(requests_since(instance, mark)) == 2  # the read, then one batch checking the condition
    for_db = backend.blackouts("2030-01-01T00:00:00Z", "2030-01-10T00:00:00Z", db)
    without_change = backend.blackouts("2030-01-01T00:00:00Z", "2030-01-10T00:00:00Z")

    assert mine(for_web, "DB freeze") == [] and mine(without_change, "DB freeze") == []
    assert mine(for_db, "DB freeze") == [("2030-01-05T00:00:00Z", "2030-01-06T00:00:00Z", "servicenow")]
    assert "its condition matches the change (nameSTARTSWITHdb)" in for_db[0]["reason"]


def test_an_unscoped_blackout_blocks_every_change_and_the_freeze_only_gate(instance, backend):
    instance.blackout("Year end", [{"start_date_time": "20301224T000000", "end_date_time": "20301226T000000"}],
                      time_zone="Europe/Paris")
    change = backend.create("change", {"short_description": "web", "configuration_items": ["web03"]})
    mark = last_seq(instance)

    found = backend.blackouts("2030-12-20T00:00:00Z", "2030-12-31T00:00:00Z", change)

    assert len(requests_since(instance, mark)) == 1
    expected = [("2030-12-23T23:00:00Z", "2030-12-25T23:00:00Z", "servicenow")]
    assert mine(found, "Year end") == expected
    assert mine(backend.blackouts("2030-12-20T00:00:00Z", "2030-12-31T00:00:00Z"), "Year end") == expected


def test_all_pages_of_spans_are_read(instance, backend, monkeypatch):
    monkeypatch.setattr(blackouts, "PAGE_SIZE", 2)
    instance.blackout("Paged", [{"start_date_time": f"203102{day:02d}T000000", "end_date_time": f"203102{day:02d}T010000"}
                                for day in range(1, 6)])

    found = backend.blackouts("2031-02-01T00:00:00Z", "2031-02-28T00:00:00Z")

    assert [start for start, _end, _source in mine(found, "Paged")] == [
        f"2031-02-{day:02d}T00:00:00Z" for day in range(1, 6)]


def test_conflicts_confirm_a_blackout_once_and_stale_ones_are_ignored(instance, backend):
    window = {"start_date": "2032-03-01T10:00:00Z", "end_date": "2032-03-01T12:00:00Z"}
    instance.blackout("Quarter close", [{"start_date_time": "20320301T110000", "end_date_time": "20320301T113000"}])
    unread = instance.blackout("Unreadable", [])
    change = backend.create("change", {"short_description": "q", "configuration_items": ["web01"], **window})
    instance.detect_conflicts(change["id"])
    # A schedule without readable entries is known only from its conflict row (written as the worker would).
    checked = instance.sim.admin("POST", "clock", {"offset_seconds": 0})["now"]
    instance.post("conflict", {"change": change["id"], "schedule": unread, "type": "blackout", "last_checked": checked})

    found = backend.blackouts("2032-03-01T00:00:00Z", "2032-03-02T00:00:00Z", backend.get("change", id=change["id"]))
    assert mine(found, "Quarter close") == [("2032-03-01T11:00:00Z", "2032-03-01T11:30:00Z", "servicenow")]
    assert mine(found, "Unreadable") == [("2032-03-01T10:00:00Z", "2032-03-01T12:00:00Z", "servicenow conflict")]

    instance.sim.admin("POST", "clock", {"offset_seconds": 5})
    try:
        edited = backend.update("change", change, {"description": "edited after the conflict run"})
    finally:
        instance.sim.admin("POST", "clock", {"offset_seconds": 0})
    stale = backend.blackouts("2032-03-01T00:00:00Z", "2032-03-02T00:00:00Z", edited)
    assert mine(stale, "Unreadable") == []
    assert mine(stale, "Quarter close") == mine(found, "Quarter close")


def test_a_gate_poll_under_a_scoped_blackout_takes_three_requests(instance, backend):
    instance.blackout("Oracle freeze", [{"start_date_time": "20300305T000000", "end_date_time": "20300306T000000"}],
                      applies_to="cmdb_ci_linux_server", condition="nameSTARTSWITHdb")
    change = backend.create("change", {"short_description": "db", "configuration_items": ["db01"],
                                       "start_date": "2030-03-04T00:00:00Z", "end_date": "2030-03-08T00:00:00Z"})
    backend.transition("change", change, "assess", {"assignment_group": "CAB Approval"})
    params = {"number": change["number"], "backend_blackouts": True}
    fresh = instance.backend()
    mark = last_seq(instance)

    snapshot = change_gate.poll(fresh, params, GateOptions.from_params(params), utc(2030, 3, 1))

    # the change with its CIs and approvals; the spans, scopes and conflicts; the condition check
    assert len(requests_since(instance, mark)) == 3
    assert snapshot.approvals and {approval["state"] for approval in snapshot.approvals} == {"requested"}
    assert snapshot.approvals == backend.approvals(change)
    assert snapshot.cis == ["db01"]
    assert mine(snapshot.blackouts, "Oracle freeze") == [("2030-03-05T00:00:00Z", "2030-03-06T00:00:00Z", "servicenow")]


def test_a_scoped_blackout_matches_the_changes_cis_by_id_not_by_a_shared_name(instance, backend):
    instance.blackout("Prod freeze", [{"start_date_time": "20300405T000000", "end_date_time": "20300406T000000"}],
                      applies_to="cmdb_ci_linux_server", condition="environment=Production")
    twins = {environment: instance.post("cmdb_ci_linux_server", {"name": "twin01", "environment": environment})
             for environment in ("Development", "Production")}
    changes = {}
    for environment, ci in twins.items():
        changes[environment] = backend.create("change", {"short_description": f"{environment} twin"})
        instance.post("task_ci", {"task": changes[environment]["id"], "ci_item": ci["sys_id"]})
    fresh = instance.backend()

    def blackouts(change):
        looked_up = fresh.lookup("change", id=change["id"], include={"cis"})  # the CIs' ids, read with the change
        return mine(fresh.blackouts("2030-04-01T00:00:00Z", "2030-04-10T00:00:00Z", looked_up.record,
                                    ci_ids=looked_up.ci_ids), "Prod freeze")

    found = {environment: blackouts(change) for environment, change in changes.items()}

    assert fresh.get("change", id=changes["Development"]["id"])["configuration_items"] == ["twin01"]
    assert found == {"Development": [],
                     "Production": [("2030-04-05T00:00:00Z", "2030-04-06T00:00:00Z", "servicenow")]}
