"""The gate's evaluation: a table of change records, policies, clocks and hosts with the expected verdict."""

import datetime as dt

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmValidationError
from ansible_collections.opsgate.itsm.plugins.module_utils._gate import (
    CHECK_NAMES,
    Acceptor,
    Condition,
    GateOptions,
    acceptors,
    evaluate,
)
from ansible_collections.opsgate.itsm.plugins.module_utils._policy import build_policy

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # a Tuesday
OPTIONS = GateOptions()


def change(**fields):
    record = dict(number="CHG0000042", type="normal", state="scheduled", approval="approved",
                  start_date="2026-11-24T10:00:00Z", end_date="2026-11-24T14:00:00Z",
                  configuration_items=["web01", "web02"])
    record.update(fields)
    return record


def approval(approver, state, stage="authorize", comments=None):
    return dict(approver=approver, state=state, stage=stage, comments=comments, decided_at=None)


def policy(*windows, timezone="UTC"):
    return build_policy({"timezone": timezone, "windows": list(windows)}, source="freezes.yml")


HOSTS = {"web01": "web01", "web02": "web02"}
APPROVED = [approval("alice", "approved", "assess"), approval("cab", "approved")]


def gate(record=None, approvals=None, cis=None, freeze_policy=None, now=NOW, hosts=None,
         options=OPTIONS, blackouts=()):
    record = change() if record is None else record
    approvals = APPROVED if approvals is None else approvals
    hosts = HOSTS if hosts is None else hosts
    cis = record.get("configuration_items", []) if cis is None and record else (cis or [])
    return evaluate(record, approvals, cis, freeze_policy, now, hosts, options, blackouts=blackouts)


# Saturday 23:00 to Sunday 02:00, New York wall clock: the night spans midnight and, on 2026-11-01, the fall back.
NIGHTLY = dict(name="batch", weekly={"days": ["sat"], "start": "23:00", "end": "02:00"})
ALL_PASSED = "CHG0000042 passed the change gate (approval, state, window, freeze, scope)."


def outcome(verdict, name):
    check = next(check for check in verdict.checks if check.name == name)
    return ("pass" if check.passed else "final" if check.final else "wait"), check.message


# -- the table ---------------------------------------------------------------------------------------

CASES = [
    # id, evaluate() keyword arguments, check name, expected outcome, text the message must contain,
    # then the whole verdict: passed, final, text the summary must contain
    ("approved", {}, "approval", "pass", "approved by alice, cab",
     True, False, ALL_PASSED),
    ("rejected-with-comments",
     dict(record=change(state="new", approval="rejected"),
          approvals=[approval("alice", "approved", "assess"),
                     approval("cab", "rejected", comments="No backout plan. ")]),
     "approval", "final", 'rejected by cab (comments: cab: "No backout plan.")',
     False, True, 'did not pass the change gate: approval: rejected by cab'),
    ("canceled-while-pending",
     dict(record=change(state="canceled", approval="requested"),
          approvals=[approval("cab", "requested", comments="Superseded by CHG0000050")]),
     "approval", "final", 'canceled before it was approved (comments: cab: "Superseded by CHG0000050")',
     False, True, "approval: the change was canceled before it was approved"),
    ("pending-approvers-counted",
     dict(record=change(state="authorize", approval="requested"),
          approvals=[approval("alice", "approved", "assess"), approval("bob", "approved"),
                     approval("carol", "requested"), approval("dave", "requested")]),
     "approval", "wait", "2 of 3 approvers pending (carol, dave)",
     False, False, "approval: waiting for approval, 2 of 3 approvers pending"),
    ("pending-without-approver-records",
     dict(record=change(state="authorize", approval="requested"), approvals=[approval("alice", "approved", "assess")]),
     "approval", "wait", "waiting for approval in authorize",
     False, False, "approval: waiting for approval in authorize; state:"),
    ("never-requested",
     dict(record=change(state="authorize", approval="not_requested"), approvals=[]),
     "approval", "final", "approval was never requested (approval is not_requested, state authorize), so waiting "
                          "would not end; moving the change to assess requests it",
     False, True, "approval: approval was never requested"),
    ("state-allowed", {}, "state", "pass", "state scheduled is allowed",
     True, False, ALL_PASSED),
    ("state-earlier", dict(record=change(state="assess", approval="requested")), "state", "wait",
     "state is assess, expected scheduled or implement",
     False, False, "state: state is assess, expected scheduled or implement"),
    ("state-moved-on", dict(record=change(state="review")), "state", "final", "state is review",
     False, True, "gate: state: state is review, expected scheduled or implement."),
    ("state-canceled", dict(record=change(state="canceled")), "state", "final", "state is canceled",
     False, True, "gate: state: state is canceled"),
    ("inside-window", {}, "window", "pass", "inside the planned window (2026-11-24T10:00:00Z to "
                                            "2026-11-24T14:00:00Z), closes in 2h00m",
     True, False, ALL_PASSED),
    ("before-window", dict(record=change(start_date="2026-11-24T13:20:00Z")), "window", "wait",
     "the window opens in 1h20m (start 2026-11-24T13:20:00Z)",
     False, False, "gate: window: the window opens in 1h20m"),
    ("early-start-allowed",
     dict(record=change(start_date="2026-11-24T12:04:10Z"), options=GateOptions(early_start=600)),
     "window", "pass", "4m10s before the planned start 2026-11-24T12:04:10Z, allowed by early_start 10m",
     True, False, ALL_PASSED),
    ("early-start-too-early",
     dict(record=change(start_date="2026-11-24T12:30:00Z"), options=GateOptions(early_start=600)),
     "window", "wait", "the window opens in 20m (start 2026-11-24T12:30:00Z, early_start 10m)",
     False, False, "gate: window: the window opens in 20m"),
    ("after-window", dict(record=change(end_date="2026-11-24T09:55:00Z", start_date="2026-11-24T08:00:00Z")),
     "window", "final", "the window closed 2h05m ago (end 2026-11-24T09:55:00Z)",
     False, True, "gate: window: the window closed 2h05m ago"),
    ("window-end-is-exclusive", dict(record=change(end_date="2026-11-24T12:00:00Z")), "window", "final",
     "closed 0s ago",
     False, True, "gate: window: the window closed 0s ago"),
    ("window-with-offsets", dict(record=change(start_date="2026-11-24T11:00:00+01:00",
                                               end_date="2026-11-24T13:30:00+01:00")),
     "window", "pass", "closes in 30m",
     True, False, ALL_PASSED),
    ("no-window", dict(record=change(start_date=None, end_date=None)), "window", "pass", "no planned start or end",
     True, False, ALL_PASSED),
    ("only-start", dict(record=change(end_date=None)), "window", "pass", "(from 2026-11-24T10:00:00Z)",
     True, False, ALL_PASSED),
    ("no-freeze", dict(freeze_policy=policy({"name": "xmas", "start": "2026-12-20", "end": "2027-01-04"})),
     "freeze", "pass", "no freeze or blackout covers now or the rest of the planned window",
     True, False, ALL_PASSED),
    ("freeze-covers-now-and-ends-inside-window",
     dict(freeze_policy=policy({"name": "lunch", "reason": "Trading peak", "start": "2026-11-24T11:30Z",
                                "end": "2026-11-24T12:30Z"})),
     "freeze", "wait", "'lunch' (2026-11-24T11:30:00Z to 2026-11-24T12:30:00Z, freezes.yml: Trading peak) covers now, "
                       "ends in 30m",
     False, False, "gate: freeze: 'lunch'"),
    ("freeze-covers-rest-of-window",
     dict(freeze_policy=policy({"name": "xmas", "start": "2026-11-24T00:00Z", "end": "2026-12-31T00:00Z"})),
     "freeze", "final", "no time is left in the planned window after it, so reschedule the change",
     False, True, "gate: freeze: 'xmas'"),
    ("freeze-later-in-window",
     dict(freeze_policy=policy({"name": "evening", "start": "2026-11-24T13:00Z", "end": "2026-11-24T13:30Z"})),
     "freeze", "wait", "'evening' (2026-11-24T13:00:00Z to 2026-11-24T13:30:00Z, freezes.yml) overlaps the planned "
                       "window, starts in 1h00m",
     False, False, "gate: freeze: 'evening'"),
    ("freeze-before-the-window-opens-is-ignored",
     dict(record=change(start_date="2026-11-24T15:00Z", end_date="2026-11-24T16:00Z"),
          freeze_policy=policy({"name": "gap", "start": "2026-11-24T13:00Z", "end": "2026-11-24T14:00Z"})),
     "freeze", "pass", "no freeze",
     False, False, "gate: window: the window opens in 3h00m"),
    ("freeze-scoped-to-other-environment",
     dict(freeze_policy=policy({"name": "prod", "scope": {"environments": ["prod"]},
                                "start": "2026-11-24T00:00Z", "end": "2026-11-25T00:00Z"}),
          options=GateOptions(environment="staging")),
     "freeze", "pass", "no freeze",
     True, False, ALL_PASSED),
    ("freeze-scoped-by-ci-pattern-hits-host",
     dict(freeze_policy=policy({"name": "db", "scope": {"ci_patterns": ["db*"]},
                                "start": "2026-11-24T00:00Z", "end": "2026-11-25T00:00Z"}),
          hosts={"web01": "web01", "db01": "db01.example.com"}, record=change(configuration_items=["web01"])),
     "freeze", "final", "'db'",
     False, True, "gate: freeze: 'db'"),
    ("freeze-exempts-emergency",
     dict(record=change(type="emergency"),
          freeze_policy=policy({"name": "soft", "exempt_emergency": True,
                                "start": "2026-11-24T00:00Z", "end": "2026-11-25T00:00Z"})),
     "freeze", "pass", "no freeze",
     True, False, ALL_PASSED),
    ("backend-blackout",
     dict(blackouts=[dict(name="Network maintenance", start="2026-11-24T11:00:00Z", end="2026-11-24T12:15:00Z",
                          source="local blackout schedule", reason="Core switch upgrade")]),
     "freeze", "wait", "'Network maintenance' (2026-11-24T11:00:00Z to 2026-11-24T12:15:00Z, local blackout "
                       "schedule: Core switch upgrade) covers now, ends in 15m",
     False, False, "gate: freeze: 'Network maintenance'"),
    # Saturday 2026-11-28 23:00 EST is Sunday 04:00Z; the night ends Sunday 02:00 EST (07:00Z).
    ("recurring-freeze-spanning-midnight",
     dict(record=change(start_date="2026-11-29T03:00:00Z", end_date="2026-11-29T09:00:00Z"),
          freeze_policy=policy(NIGHTLY, timezone="America/New_York"), now=dt.datetime(2026, 11, 29, 6, 59, tzinfo=UTC)),
     "freeze", "wait", "'batch' (2026-11-29T04:00:00Z to 2026-11-29T07:00:00Z, freezes.yml) covers now, ends in 1m",
     False, False, "gate: freeze: 'batch'"),
    ("recurring-freeze-ends-at-its-local-end",
     dict(record=change(start_date="2026-11-29T03:00:00Z", end_date="2026-11-29T09:00:00Z"),
          freeze_policy=policy(NIGHTLY, timezone="America/New_York"), now=dt.datetime(2026, 11, 29, 7, 0, tzinfo=UTC)),
     "freeze", "pass", "no freeze",
     True, False, ALL_PASSED),
    # The fall-back night: 23:00 EDT Saturday (03:00Z) to 02:00 EST Sunday (07:00Z), four hours not three.
    ("dst-night-freeze-follows-the-wall-clock",
     dict(record=change(start_date="2026-11-01T02:00:00Z", end_date="2026-11-01T08:00:00Z"),
          freeze_policy=policy(NIGHTLY, timezone="America/New_York"), now=dt.datetime(2026, 11, 1, 6, 30, tzinfo=UTC)),
     "freeze", "wait", "'batch' (2026-11-01T03:00:00Z to 2026-11-01T07:00:00Z, freezes.yml) covers now, ends in 30m",
     False, False, "gate: freeze: 'batch'"),
    ("hosts-covered", {}, "scope", "pass", "all 2 hosts are affected CIs of the change",
     True, False, ALL_PASSED),
    ("ci-names-case-insensitive", dict(hosts={"w1": "WEB01"}), "scope", "pass", "all 1 hosts",
     True, False, ALL_PASSED),
    ("hosts-outside", dict(hosts={"web01": "web01", "web03": "web03", "db1": "db1.example.com"}),
     "scope", "wait", "2 of 3 hosts are not affected CIs of the change: web03, db1 (CI db1.example.com)",
     False, False, "gate: scope: 2 of 3 hosts"),
    ("no-hosts", dict(hosts={}), "scope", "pass", "no hosts to check",
     True, False, ALL_PASSED),
]


@pytest.mark.parametrize("kwargs, name, expected, text, passed, final, summary", [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_verdict_table(kwargs, name, expected, text, passed, final, summary):
    verdict = gate(**kwargs)
    got, message = outcome(verdict, name)
    assert got == expected, message
    assert text in message
    assert (verdict.passed, verdict.final) == (passed, final), verdict.summary("CHG0000042")
    assert summary in verdict.summary("CHG0000042")


# -- whole verdicts ----------------------------------------------------------------------------------

def test_everything_in_order_passes_with_every_check_listed():
    verdict = gate()
    assert verdict.passed and not verdict.final
    assert [check.name for check in verdict.checks] == list(CHECK_NAMES)
    assert verdict.summary("CHG0000042") == ALL_PASSED


def test_the_failure_paragraph_lists_every_failing_check():
    verdict = gate(record=change(state="new", approval="rejected", end_date="2026-11-24T11:00:00Z"),
                   approvals=[approval("cab", "rejected", comments="Too risky")],
                   hosts={"web01": "web01", "web09": "web09"})
    assert not verdict.passed and verdict.final
    assert verdict.summary("CHG0000042") == (
        'CHG0000042 did not pass the change gate: approval: rejected by cab (comments: cab: "Too risky"); '
        "state: state is new, expected scheduled or implement; window: the window closed 1h00m ago "
        "(end 2026-11-24T11:00:00Z); scope: 1 of 2 hosts is not an affected CI of the change: web09.")


def test_waiting_text_and_earliest_pass_time():
    verdict = gate(record=change(state="authorize", approval="requested", start_date="2026-11-24T13:00:00Z"),
                   approvals=[approval("bob", "approved"), approval("carol", "requested"),
                              approval("dave", "requested")])
    assert not verdict.passed and not verdict.final
    # Approvals move the change on from authorize, so the state check adds nothing to wait for.
    assert verdict.waiting() == "approval, 2 of 3 approvers pending; the window to open in 1h00m"
    assert "state: state is authorize, expected scheduled or implement" in verdict.summary("CHG0000042")
    assert gate(record=change(state="assess", approval="approved")).waiting() == \
        "state scheduled or implement (now assess)"
    assert verdict.not_before == dt.datetime(2026, 11, 24, 13, tzinfo=UTC)


def test_a_freeze_ending_later_sets_the_earliest_pass_time():
    verdict = gate(freeze_policy=policy({"name": "f", "start": "2026-11-24T11:00Z", "end": "2026-11-24T13:10Z"}))
    assert verdict.not_before == dt.datetime(2026, 11, 24, 13, 10, tzinfo=UTC)
    assert verdict.waiting() == "freeze 'f' to end in 1h10m"


def test_checks_can_be_turned_off():
    options = GateOptions.from_params({"checks": {"approval": False, "scope": False}})
    verdict = gate(record=change(approval="rejected"), hosts={"x": "x"}, options=options)
    assert [check.name for check in verdict.checks] == ["state", "window", "freeze"]
    assert verdict.passed


def test_without_a_change_only_the_freeze_check_runs():
    weekend = policy({"name": "weekend", "weekly": {"days": ["sat", "sun"]}}, timezone="Europe/London")
    saturday = dt.datetime(2026, 11, 28, 10, tzinfo=UTC)
    blocked = evaluate(None, [], [], weekend, saturday, {"web01": "web01"}, OPTIONS)
    assert [check.name for check in blocked.checks] == ["freeze"]
    assert not blocked.passed and not blocked.final
    assert "'weekend' (2026-11-28T00:00:00Z to 2026-11-29T00:00:00Z, freezes.yml) covers now" in \
        blocked.checks[0].message
    assert evaluate(None, [], [], weekend, NOW, {}, OPTIONS).passed


# -- acceptors as data and options -------------------------------------------------------------------

def test_acceptors_are_data_and_failure_wins_over_pass():
    rule = Acceptor("x", pass_when=(Condition("a", (1,)),), fail_when=(Condition("b", (True,)),))
    assert (rule.judge({"a": 1}), rule.judge({"a": 1, "b": True}), rule.judge({"a": 2})) == ("pass", "fail", "wait")


def test_state_acceptor_fails_for_good_past_the_allowed_states():
    state_rule = next(rule for rule in acceptors(("scheduled", "implement")) if rule.check == "state")
    assert state_rule.fail_when[0].values == ("review", "closed", "canceled")
    state_rule = next(rule for rule in acceptors(("review",)) if rule.check == "state")
    assert state_rule.fail_when[0].values == ("closed", "canceled")


@pytest.mark.parametrize("params, expected", [
    ({}, GateOptions()),
    ({"checks": ["scope", "approval"]}, GateOptions(checks=("approval", "scope"))),
    ({"checks": {"freeze": False}}, GateOptions(checks=("approval", "state", "window", "scope"))),
    ({"checks": {"freeze": "no", "scope": "true"}}, GateOptions(checks=("approval", "state", "window", "scope"))),
    ({"allowed_states": ["implement"], "early_start": "10m", "environment": "prod"},
     GateOptions(allowed_states=("implement",), early_start=600.0, environment="prod")),
])
def test_options_from_params(params, expected):
    assert GateOptions.from_params(params) == expected


@pytest.mark.parametrize("params, option, text", [
    ({"checks": ["approval", "windows"]}, "checks", "names from: approval, state, window, freeze, scope"),
    ({"checks": {"aproval": False}}, "checks", "names from"),
    ({"checks": []}, "checks", "at least one check"),
    ({"checks": "approval"}, "checks", "expected a list"),
    ({"checks": {"scope": "maybe"}}, "checks.scope", "expected true or false"),
    ({"allowed_states": ["implementing"]}, "allowed_states", "expected states from: new, assess"),
    ({"early_start": "soon"}, "early_start", "expected a duration"),
])
def test_bad_options_are_refused_naming_the_option(params, option, text):
    with pytest.raises(ItsmValidationError) as error:
        GateOptions.from_params(params)
    assert error.value.details["option"] == option
    assert text in str(error.value)


def test_check_results_return_name_passed_and_message():
    assert gate().checks[0].to_dict() == {"name": "approval", "passed": True, "message": "approved by alice, cab"}
