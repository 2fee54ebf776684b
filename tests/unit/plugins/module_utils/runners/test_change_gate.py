"""change_gate run() against a real local store, with a fake clock: waiting, timeouts, transitions, check mode."""

import datetime as dt
import re
from unittest import mock

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmNotFoundError, ItsmValidationError
from ansible_collections.opsgate.itsm.plugins.module_utils._gate import Clock, GateOptions
from ansible_collections.opsgate.itsm.plugins.module_utils._lookup import LookupResult
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import change_gate

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class FakeClock(Clock):
    """Time moves only when the gate sleeps; ``on_sleep`` lets a test act while the gate waits."""

    def __init__(self, now=NOW, on_sleep=None):
        self.start, self.elapsed, self.sleeps, self.on_sleep = now, 0.0, [], on_sleep

    def now(self):
        return self.start + dt.timedelta(seconds=self.elapsed)

    def monotonic(self):
        return 1000.0 + self.elapsed

    def sleep(self, seconds):
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.elapsed += seconds
        if self.on_sleep:
            self.on_sleep(len(self.sleeps))


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def open_change(backend, approvals=("alice", "cab"), start=NOW - dt.timedelta(hours=1),
                end=NOW + dt.timedelta(hours=2), cis=("web01", "web02"), **fields):
    """A normal change taken to assess and approved by ``approvals`` (two approvals make it scheduled)."""
    record = backend.create("change", dict(short_description="Gate test", assignment_group="Platform",
                                           start_date=iso(start), end_date=iso(end), configuration_items=list(cis),
                                           **fields))
    record = backend.transition("change", record, "assess")
    for approver in approvals:
        record = backend.decide_approval(record, approver, "approved", f"ok from {approver}")
    return record


class Gate:
    def __init__(self, task, clock):
        self.task, self.clock, self.progress = task, clock, []

    def __call__(self, check_mode=False, hosts=None, **args):
        params = self.task.params(change_gate, **args)
        return change_gate.run(params, self.task.backend, check_mode=check_mode, warn=self.task.warnings.append,
                               hosts=hosts, clock=self.clock, progress=self.progress.append)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def gate(task, clock):
    return Gate(task, clock)


def by_name(result):
    return {check["name"]: check for check in result["checks"]}


def test_an_approved_scheduled_change_in_its_window_passes_at_once(gate, local_backend):
    number = open_change(local_backend)["number"]
    result = gate(number=number, hosts=["web01", "web02"])
    assert result["passed"] is True and "failed" not in result
    assert result["changed"] is False
    assert [check["name"] for check in result["checks"]] == ["approval", "state", "window", "freeze", "scope"]
    assert all(check["passed"] for check in result["checks"])
    assert by_name(result)["approval"]["message"] == "approved by alice, cab"
    assert (result["polls"], result["waited"], result["timed_out"]) == (1, 0.0, False)
    assert result["record"]["number"] == number
    assert result["msg"] == f"{number} passed the change gate (approval, state, window, freeze, scope)."


def test_a_rejection_fails_at_once_even_when_waiting_and_quotes_the_approver(gate, local_backend, clock):
    record = open_change(local_backend, approvals=("alice",))
    local_backend.decide_approval(local_backend.get("change", number=record["number"]), "cab", "rejected",
                                  "No backout plan")
    result = gate(number=record["number"], wait=True)
    assert result["failed"] is True and result["polls"] == 1 and clock.sleeps == []
    assert 'approval: rejected by cab (comments: cab: "No backout plan")' in result["msg"]
    assert "state: state is new, expected scheduled or implement" in result["msg"]


def test_a_change_whose_approval_was_never_requested_fails_instead_of_waiting(gate, local_backend, clock):
    record = local_backend.create("change", dict(short_description="never submitted"))
    result = gate(number=record["number"], wait=True, checks=["approval"])
    assert result["failed"] is True and clock.sleeps == []
    assert "approval was never requested" in result["msg"]


def test_waiting_ends_when_the_cab_approves(gate, local_backend, clock):
    number = open_change(local_backend, approvals=("alice",))["number"]

    def cab_decides(sleeps):
        if sleeps == 2:
            local_backend.decide_approval(local_backend.get("change", number=number), "cab", "approved", None)

    clock.on_sleep = cab_decides
    result = gate(number=number, wait=True, interval=10, max_interval=20, hosts=["web01"])
    assert result["passed"] is True
    assert result["polls"] == 3
    assert result["waited"] == pytest.approx(sum(clock.sleeps), abs=1e-3)
    assert all(8 <= delay <= 20 for delay in clock.sleeps)
    # One progress line: the second poll waited for the same thing and a minute had not passed.
    # The state check waits silently: approvals are what move the change on from authorize.
    assert gate.progress == [f"{number} waiting for approval in authorize, 0s elapsed"]


def test_waiting_times_out_and_fails_or_warns(gate, local_backend, clock):
    number = open_change(local_backend, approvals=("alice",))["number"]
    result = gate(number=number, wait=True, wait_timeout="1m", interval=10, max_interval=10)
    assert result["failed"] is True and result["timed_out"] is True
    assert result["waited"] == pytest.approx(60.0)
    assert result["polls"] == len(clock.sleeps) + 1
    assert result["msg"].endswith("Gave up after waiting 1m (wait_timeout).")
    warned = gate(number=number, wait=True, wait_timeout=30, interval=10, on_timeout="warn")
    assert "failed" not in warned and warned["passed"] is False
    assert gate.task.warnings[-1] == warned["msg"]


def test_a_window_opening_after_the_timeout_stops_the_wait_at_once(gate, local_backend, clock):
    number = open_change(local_backend, start=NOW + dt.timedelta(hours=2), end=NOW + dt.timedelta(hours=3))["number"]
    result = gate(number=number, wait=True, wait_timeout="10m")
    assert result["failed"] is True and result["timed_out"] is True and clock.sleeps == []
    assert "window: the window opens in 2h00m" in result["msg"]
    assert "It cannot pass before 2026-11-24T14:00:00Z, after the wait_timeout of 10m" in result["msg"]


def test_the_gate_wakes_when_the_window_opens(gate, local_backend, clock):
    number = open_change(local_backend, start=NOW + dt.timedelta(seconds=30))["number"]
    result = gate(number=number, wait=True, interval="1m")
    assert result["passed"] is True and result["polls"] == 2
    assert clock.sleeps == [pytest.approx(30.01)]
    assert gate.progress == [f"{number} waiting for the window to open in 30s, 0s elapsed"]


def test_progress_is_repeated_after_a_minute_without_news(gate, local_backend, clock, monkeypatch):
    monkeypatch.setattr(change_gate, "JITTER", 0.0)
    number = open_change(local_backend, approvals=("alice",))["number"]
    gate(number=number, wait=True, wait_timeout="3m", interval=20, max_interval=20, on_timeout="warn",
         checks=["approval"])
    assert clock.sleeps == [20.0] * 9
    assert gate.progress == [f"{number} waiting for approval in authorize, {elapsed} elapsed"
                             for elapsed in ("0s", "1m", "2m")]


def test_backoff_grows_from_interval_to_max_interval(gate, local_backend, clock, monkeypatch):
    monkeypatch.setattr(change_gate, "JITTER", 0.0)
    number = open_change(local_backend, approvals=("alice",))["number"]
    gate(number=number, wait=True, wait_timeout=100, interval=10, max_interval=30, on_timeout="warn")
    assert clock.sleeps == [10.0, 15.0, 22.5, 30.0, 22.5]  # the last one is cut to the time left


def test_transition_to_moves_the_change_and_notes_the_verdict_once(gate, local_backend):
    number = open_change(local_backend)["number"]
    result = gate(number=number, transition_to="implement")
    assert result["changed"] is True and result["record"]["state"] == "implement"
    assert result["diff"]["before"]["state"] == "scheduled"
    assert result["msg"].endswith("Moved it to implement.")
    notes = local_backend.journal("change", result["record"])
    assert len(notes) == 1 and notes[0]["field"] == "work_notes"
    assert notes[0]["text"].startswith("Change gate passed at 2026-11-24T12:00:00Z; moving to implement.\n"
                                       "- approval: approved by alice, cab\n")
    again = gate(number=number, transition_to="implement")
    assert again["changed"] is False and again["passed"] is True
    assert len(local_backend.journal("change", again["record"])) == 1


def test_check_mode_evaluates_once_and_writes_nothing(gate, local_backend, clock):
    number = open_change(local_backend)["number"]
    result = gate(check_mode=True, number=number, transition_to="implement")
    assert result["changed"] is True and result["record"]["state"] == "implement"
    stored = local_backend.get("change", number=number)
    assert stored["state"] == "scheduled" and local_backend.journal("change", stored) == []
    pending = open_change(local_backend, approvals=("alice",))["number"]
    waited = gate(check_mode=True, number=pending, wait=True)
    assert "failed" not in waited and waited["passed"] is False and clock.sleeps == []
    assert gate.task.warnings[-1].endswith("Check mode does not wait; a real run would.")
    assert gate(check_mode=True, number=pending)["failed"] is True


def test_hosts_outside_the_change_are_listed(gate, local_backend):
    number = open_change(local_backend, cis=["web01"])["number"]
    result = gate(number=number, hosts={"web01": "web01", "db01": "db01.example.com"})
    assert result["failed"] is True
    assert by_name(result)["scope"]["message"] == ("1 of 2 hosts is not an affected CI of the change: "
                                                   "db01 (CI db01.example.com)")


def test_freeze_without_a_change_uses_backend_blackouts_and_the_policy(gate, local_backend, tmp_path):
    assert gate()["passed"] is True
    local_backend.put_blackout("Core switch", iso(NOW), iso(NOW + dt.timedelta(hours=1)), "Network upgrade")
    blocked = gate()
    assert blocked["failed"] is True and blocked["record"] is None
    assert blocked["msg"] == ("The deployment did not pass the change gate: freeze: 'Core switch' "
                              "(2026-11-24T12:00:00Z to 2026-11-24T13:00:00Z, local: Network upgrade) covers now, "
                              "ends in 1h00m.")
    assert gate(backend_blackouts=False)["passed"] is True
    policy = tmp_path / "freezes.yml"
    policy.write_text("windows:\n  - name: tuesday\n    weekly: {days: [tue]}\n")
    frozen = gate(policy=str(policy), backend_blackouts=False)
    assert f"'tuesday' (2026-11-24T00:00:00Z to 2026-11-25T00:00:00Z, {policy})" in frozen["msg"]
    inline = gate(policy_data={"windows": [{"name": "inline", "weekly": {"days": ["wed"]}}]}, backend_blackouts=False)
    assert inline["passed"] is True


def test_a_freeze_check_with_nothing_to_check_warns(gate):
    assert gate(backend_blackouts=False)["passed"] is True
    assert gate.task.warnings == ["freeze: no policy is given and the local backend's blackouts are not read, so "
                                  "the freeze check has nothing to check; give policy or policy_data"]


def test_a_freeze_over_the_rest_of_the_window_fails_without_waiting(gate, local_backend, clock):
    number = open_change(local_backend)["number"]
    local_backend.put_blackout("Sale", iso(NOW + dt.timedelta(minutes=30)), iso(NOW + dt.timedelta(days=1)))
    result = gate(number=number, wait=True)
    assert result["failed"] is True and clock.sleeps == []
    assert "overlaps the planned window, starts in 30m" in result["msg"]


def test_one_poll_is_one_round_of_backend_requests(gate, local_backend, clock, monkeypatch):
    number = open_change(local_backend, approvals=("alice",))["number"]
    calls = []
    for name in ("lookup", "approvals", "affected_cis", "blackouts"):
        original = getattr(local_backend, name)
        monkeypatch.setattr(local_backend, name, lambda *a, _o=original, _n=name, **k: calls.append(_n) or _o(*a, **k))
    result = gate(number=number, wait=True, wait_timeout=25, interval=10, max_interval=10)
    assert result["polls"] == 4
    # the look-up reads the approvals it includes (local: with approvals(); servicenow: in its own request)
    assert calls == ["lookup", "approvals", "affected_cis", "blackouts"] * 4


@pytest.mark.parametrize("args, option", [
    (dict(transition_to="implement"), "transition_to"),
    (dict(number="CHG0000001", interval=0), "interval"),
    (dict(number="CHG0000001", wait_timeout="forever"), "wait_timeout"),
    (dict(policy_data={"windows": [{"name": "x"}]}), "policy_data"),
    (dict(checks=["approval", "window"]), "checks"),
])
def test_bad_arguments_are_refused_naming_the_option(gate, local_backend, args, option):
    open_change(local_backend)
    with pytest.raises(ItsmValidationError) as error:
        gate(**args)
    assert error.value.details["option"] == option


def test_a_malformed_policy_file_is_named(gate, tmp_path):
    policy = tmp_path / "bad.yml"
    policy.write_text("windows:\n  - name: x\n    weekly: {days: [someday]}\n")
    with pytest.raises(ItsmValidationError) as error:
        gate(policy=str(policy))
    assert str(error.value).startswith(f"policy: {str(policy)!r} is not valid; windows[0].weekly.days[0]: 'someday'")


def test_an_unknown_change_is_reported(gate):
    with pytest.raises(ItsmNotFoundError, match="CHG0000099 does not exist"):
        gate(number="CHG0000099")
    with pytest.raises(ItsmNotFoundError, match="no change holds 'nope'"):
        gate(correlation_id="nope")


# -- what one poll asks the backend for (a double of the contract, no store) ------------------------------

CHANGE = dict(id="c1", number="CHG0000007", state="scheduled", type="normal", approval="approved",
              correlation_id="deploy-7", start_date=iso(NOW), end_date=iso(NOW + dt.timedelta(hours=2)),
              configuration_items=["web01"])


APPROVALS = [dict(approver="alice", state="approved")]
CI_IDS = ["ci-web01"]


@pytest.fixture
def gate_backend(backend_double):
    def look_up(kind, number=None, correlation_id=None, *, id=None, open_only=False, include=frozenset(),
                writes=None):
        # as the contract answers: the parts asked for, and only those
        return LookupResult(CHANGE, approvals=APPROVALS if "approvals" in include else None,
                            ci_ids=CI_IDS if "cis" in include else None)
    backend_double.lookup.side_effect = look_up
    backend_double.affected_cis.return_value = ["web01"]
    backend_double.blackouts.return_value = []
    return backend_double


def look_up(*parts, **key):
    return mock.call.lookup("change", **key, include=frozenset(parts), writes=None)


@pytest.mark.parametrize("checks, reads", [
    (("state",), [look_up(number="CHG0000007")]),
    (("window",), [look_up(number="CHG0000007")]),
    (("approval",), [look_up("approvals", number="CHG0000007")]),
    (("scope",), [look_up(number="CHG0000007"), mock.call.affected_cis(CHANGE)]),
    (("freeze",), [look_up("cis", number="CHG0000007"), mock.call.affected_cis(CHANGE),
                   mock.call.blackouts(iso(NOW), iso(NOW + dt.timedelta(hours=2, seconds=1)), CHANGE, ci_ids=CI_IDS)]),
])
def test_a_poll_asks_the_backend_for_what_its_checks_need_and_nothing_else(gate_backend, checks, reads):
    snapshot = change_gate.poll(gate_backend, {"number": "CHG0000007"}, GateOptions(checks=checks), NOW)

    assert gate_backend.method_calls == reads
    assert snapshot.change == CHANGE
    assert snapshot.approvals == (APPROVALS if "approval" in checks else [])


def test_a_poll_by_correlation_id_is_one_look_up_by_the_one_rule_settled_changes_included(gate_backend):
    snapshot = change_gate.poll(gate_backend, {"correlation_id": "deploy-7"}, GateOptions(checks=("state",)), NOW)

    assert gate_backend.method_calls == [look_up(correlation_id="deploy-7", open_only=False)]
    assert snapshot.change == CHANGE


def test_without_backend_blackouts_a_freeze_poll_does_not_ask_for_the_cis_ids(gate_backend):
    change_gate.poll(gate_backend, {"number": "CHG0000007", "backend_blackouts": False}, GateOptions(checks=("freeze",)),
                     NOW)

    assert gate_backend.method_calls == [look_up(number="CHG0000007"), mock.call.affected_cis(CHANGE)]


# -- the gated change as workflow artifacts (issue 17) -------------------------------------------------------------

def test_a_passed_gate_publishes_the_moved_change_as_a_custom_stat(gate, local_backend):
    record = open_change(local_backend)
    result = gate(number=record["number"], hosts=["web01", "web02"], transition_to="implement")
    assert result["passed"] and result["record"]["state"] == "implement"
    assert result["ansible_stats"] == {
        "data": {"itsm_change": {"number": record["number"], "id": record["id"], "state": "implement",
                                 "approval": "approved", "url": result["record"].get("url"), "verdict": "passed"}},
        "per_host": False, "aggregate": False}


def test_a_gate_that_warns_instead_of_failing_publishes_the_failed_verdict(gate, local_backend):
    record = local_backend.create("change", dict(short_description="never submitted"))
    result = gate(number=record["number"], on_timeout="warn", wait=True, wait_timeout=0)
    artifact = result["ansible_stats"]["data"]["itsm_change"]
    assert (artifact["number"], artifact["state"], artifact["verdict"]) == (record["number"], "new", "failed")


def test_a_gate_without_a_change_publishes_nothing(gate):
    result = gate(checks=["freeze"], policy_data={"version": 1, "windows": []})
    assert "ansible_stats" not in result


def gate_notes(backend, number):
    change = backend.get("change", number=number)
    return [entry["text"] for entry in backend.journal("change", change)
            if entry["field"] == "work_notes" and entry["text"].startswith("Change gate ")]


def test_a_refusal_is_noted_on_the_change_once_per_new_answer_naming_the_failing_checks(gate, local_backend):
    number = local_backend.create("change", dict(short_description="never submitted"))["number"]

    first = gate(number=number, checks=["approval", "state"])
    again = gate(number=number, checks=["approval", "state"])  # a retried gate: the same answer
    narrower = gate(number=number, checks=["approval"])  # another answer: a new note

    notes = gate_notes(local_backend, number)
    assert (first["failed"], first["changed"], again["changed"], narrower["changed"]) == (True, True, False, True)
    assert len(notes) == 2
    lines = notes[0].split("\n")
    assert re.fullmatch(r"Change gate refused at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: approval, state\.", lines[0])
    assert lines[1:] == ["- approval: " + by_name(first)["approval"]["message"], "- state: " + by_name(first)["state"]["message"]]
    assert notes[1].split("\n")[0].endswith(": approval.")


def test_a_refusal_in_check_mode_notes_nothing(gate, local_backend):
    number = local_backend.create("change", dict(short_description="never submitted"))["number"]
    result = gate(check_mode=True, number=number, checks=["approval"])
    assert result["failed"] is True and result["changed"] is False
    assert gate_notes(local_backend, number) == []
