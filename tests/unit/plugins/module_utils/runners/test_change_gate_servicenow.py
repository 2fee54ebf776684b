# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""change_gate run() with the real servicenow backend against a private simulator: blackouts and progress."""

from __future__ import annotations

import datetime as dt

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmTransientError
from ansible_collections.opsgate.itsm.plugins.module_utils._gate import GateOptions, evaluate
from ansible_collections.opsgate.itsm.plugins.module_utils._options import connection_argument_spec
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import change_gate
from tests.unit.plugins.module_utils.backends import sn_private
from tests.unit.plugins.module_utils.runners.test_change_gate import FakeClock

# The private simulator's fixtures, by name, for the tests below.
backend = sn_private.backend
instance = sn_private.instance

UTC = dt.timezone.utc
NOW = dt.datetime(2033, 6, 7, 12, 0, tzinfo=UTC)


def sn(moment: dt.datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def validated(**args) -> dict:
    spec = dict(connection_argument_spec(), **change_gate.ARGUMENT_SPEC)
    return ArgumentSpecValidator(spec).validate({"checks": ["freeze"], **args}).validated_parameters


@pytest.fixture
def gate(backend):
    def run(clock: FakeClock | None = None, **args):
        return change_gate.run(validated(**args), backend, check_mode=False, warn=lambda text: None,
                               clock=clock or FakeClock(NOW))
    return run


def verdict(backend, now: dt.datetime, number: str):
    """One poll and its evaluation, as run() does it: the Verdict says whether a failure is final."""
    params = validated(number=number)
    snapshot = change_gate.poll(backend, params, GateOptions.from_params(params), now)
    return evaluate(snapshot.change, snapshot.approvals, snapshot.cis, None, now, {}, GateOptions.from_params(params),
                    blackouts=snapshot.blackouts)


def planned(backend, cis=("web01",), start=NOW - dt.timedelta(hours=1), end=NOW + dt.timedelta(hours=2)):
    return backend.create("change", {"short_description": "gate on servicenow", "configuration_items": list(cis),
                                     "start_date": iso(start), "end_date": iso(end)})


def test_a_blackout_ending_soon_is_waited_out(instance, backend, gate):
    instance.blackout("Switch reboot", [{"start_date_time": sn(NOW - dt.timedelta(minutes=30)),
                                         "end_date_time": sn(NOW + dt.timedelta(minutes=15))}])
    number = planned(backend)["number"]

    blocked = gate(number=number)
    clock = FakeClock(NOW)
    waited = gate(clock, number=number, wait=True, interval=60)

    assert blocked["failed"] is True and verdict(backend, NOW, number).final is False
    assert "'Switch reboot' (2033-06-07T11:30:00Z to 2033-06-07T12:15:00Z, servicenow" in blocked["msg"]
    assert "covers now, ends in 15m" in blocked["msg"]
    assert waited["passed"] is True and clock.now() >= NOW + dt.timedelta(minutes=15)


def test_a_blackout_over_the_rest_of_the_window_is_final(instance, backend, gate):
    later = NOW + dt.timedelta(days=1)
    instance.blackout("Board meeting", [{"start_date_time": sn(later - dt.timedelta(hours=3)),
                                         "end_date_time": sn(later + dt.timedelta(hours=6))}])
    number = planned(backend, start=later - dt.timedelta(hours=1), end=later + dt.timedelta(hours=2))["number"]
    clock = FakeClock(later)

    result = gate(clock, number=number, wait=True)

    assert result["failed"] is True and verdict(backend, later, number).final is True and clock.sleeps == []
    assert "no time is left in the planned window after it, so reschedule the change" in result["msg"]


def test_a_scoped_blackout_for_other_cis_lets_the_change_pass(instance, backend, gate):
    later = NOW + dt.timedelta(days=2)
    instance.blackout("Database freeze", [{"start_date_time": sn(later - dt.timedelta(hours=1)),
                                           "end_date_time": sn(later + dt.timedelta(hours=1))}],
                      applies_to="cmdb_ci", condition="nameSTARTSWITHdb")
    web = planned(backend, cis=("web02",), start=later, end=later + dt.timedelta(hours=2))["number"]
    db = planned(backend, cis=("db01",), start=later, end=later + dt.timedelta(hours=2))["number"]

    assert gate(FakeClock(later), number=web)["passed"] is True
    assert "'Database freeze'" in gate(FakeClock(later), number=db)["msg"]


def test_a_stale_conflict_no_longer_blocks(instance, backend, gate):
    later = NOW + dt.timedelta(days=3)
    unread = instance.blackout("Unreadable freeze", [])
    change = planned(backend, start=later, end=later + dt.timedelta(hours=2))
    checked = instance.sim.admin("POST", "clock", {"offset_seconds": 0})["now"]
    instance.post("conflict", {"change": change["id"], "schedule": unread, "type": "blackout", "last_checked": checked})

    fresh = gate(FakeClock(later), number=change["number"])
    instance.sim.admin("POST", "clock", {"offset_seconds": 5})
    try:
        backend.update("change", change, {"description": "rescheduled after the conflict run"})
    finally:
        instance.sim.admin("POST", "clock", {"offset_seconds": 0})

    assert fresh["failed"] is True and "'Unreadable freeze'" in fresh["msg"]
    assert "the schedule's entries cannot be read" in fresh["msg"]
    assert gate(FakeClock(later), number=change["number"])["passed"] is True


def test_progress_counts_only_the_open_stage_of_a_two_stage_approval(backend, gate):
    change = backend.create("change", {"short_description": "two stages", "assignment_group": "ops",
                                       "configuration_items": ["web01"]})
    assessed = backend.transition("change", change, "assess")
    authorize = backend.decide_approval(assessed, "tech.lead", "approved", "fine by the team")
    pending = [item["approver"] for item in backend.approvals(authorize) if item["state"] == "requested"]

    result = gate(number=change["number"], checks=["approval"])

    assert authorize["state"] == "authorize" and len(pending) >= 1
    approval = result["checks"][0]["message"]
    assert approval.startswith(f"waiting for approval, {len(pending)} of {len(pending)} approvers pending (")


# -- an outage while waiting (issue 14, item 4) -------------------------------------------------------------------

def _outage(instance, count: int) -> None:
    """``count`` answers of 503 from every endpoint (0: until cleared); each poll spends retries + 1 of them."""
    instance.sim.admin("POST", "faults", {"kind": "status", "status": 503, "count": count})


def test_a_waiting_gate_rides_out_an_outage_longer_than_one_requests_retries(instance, backend):
    change = backend.create("change", {"short_description": "gate through an outage"})
    lines: list[str] = []
    clock = FakeClock(NOW)
    _outage(instance, 3 * (backend.settings.retries + 1))  # three polls' worth of 503s
    try:
        result = change_gate.run(validated(number=change["number"], checks=["state"], allowed_states=["new"],
                                           wait=True, wait_timeout=60, interval=5), backend, False,
                                 lambda text: None, clock=clock, progress=lines.append)
    finally:
        instance.sim.admin("DELETE", "faults")

    assert result["passed"] is True and result["polls"] == 1
    assert len(lines) == 3 and all(f"{change['number']} could not be read (" in line for line in lines)
    assert "HTTP 503" in lines[0] and "trying again in" in lines[0]
    assert 0 < clock.elapsed < 60


def test_a_waiting_gate_fails_an_outage_only_when_its_wait_timeout_is_spent(instance, backend):
    change = backend.create("change", {"short_description": "gate through a long outage"})
    clock = FakeClock(NOW)
    _outage(instance, 0)
    try:
        with pytest.raises(ItsmTransientError) as failed:
            change_gate.run(validated(number=change["number"], checks=["state"], allowed_states=["new"], wait=True,
                                      wait_timeout=60, interval=5), backend, False, lambda text: None, clock=clock)
        with pytest.raises(ItsmTransientError) as at_once:
            change_gate.run(validated(number=change["number"], checks=["state"], allowed_states=["new"]), backend,
                            False, lambda text: None, clock=FakeClock(NOW))
    finally:
        instance.sim.admin("DELETE", "faults")

    assert clock.elapsed == pytest.approx(60) and len(clock.sleeps) > 3
    assert "HTTP 503" in str(failed.value) and "its wait_timeout of 1m is spent" in str(failed.value)
    assert "wait_timeout" not in str(at_once.value)  # without wait, the first outage fails the task as before
