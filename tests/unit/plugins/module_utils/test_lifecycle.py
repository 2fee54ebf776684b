"""The change and incident models as tables of allowed and refused transitions."""

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils import _lifecycle
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import ItsmTransitionError, ItsmValidationError

ALLOWED = [
    ("change", "normal", "new", "assess", ["assess"]),
    ("change", "normal", "assess", "new", ["new"]),
    ("change", "normal", "scheduled", "implement", ["implement"]),
    ("change", "normal", "scheduled", "closed", ["implement", "review", "closed"]),
    ("change", "normal", "implement", "closed", ["review", "closed"]),
    ("change", "normal", "authorize", "canceled", ["canceled"]),
    ("change", "normal", "implement", "canceled", ["canceled"]),
    ("change", "standard", "new", "scheduled", ["scheduled"]),
    ("change", "standard", "new", "implement", ["scheduled", "implement"]),
    ("change", "standard", "new", "closed", ["scheduled", "implement", "review", "closed"]),
    ("change", "emergency", "new", "authorize", ["authorize"]),
    ("change", "emergency", "scheduled", "review", ["implement", "review"]),
    ("incident", None, "new", "in_progress", ["in_progress"]),
    ("incident", None, "new", "closed", ["resolved", "closed"]),
    ("incident", None, "on_hold", "in_progress", ["in_progress"]),
    ("incident", None, "resolved", "in_progress", ["in_progress"]),
    ("incident", None, "in_progress", "canceled", ["canceled"]),
    ("incident", None, "closed", "closed", []),
]

REFUSED = [
    ("change", "normal", "new", "authorize", "assess, canceled"),
    ("change", "normal", "new", "scheduled", "assess, canceled"),
    ("change", "normal", "assess", "implement", "new, canceled"),
    ("change", "normal", "review", "canceled", "closed"),
    ("change", "normal", "closed", "new", "none, it is final"),
    ("change", "normal", "canceled", "implement", "none, it is final"),
    ("change", "standard", "new", "assess", "scheduled, canceled"),
    ("change", "emergency", "new", "assess", "authorize, canceled"),
    ("change", "emergency", "authorize", "scheduled", "canceled"),
    ("incident", None, "closed", "in_progress", "none, it is final"),
    ("incident", None, "canceled", "new", "none, it is final"),
    ("incident", None, "in_progress", "new", "on_hold, resolved, canceled"),
]


@pytest.mark.parametrize("kind, change_type, current, target, path", ALLOWED)
def test_allowed(kind, change_type, current, target, path):
    assert _lifecycle.plan_path(kind, current, target, change_type) == path


@pytest.mark.parametrize("kind, change_type, current, target, reachable", REFUSED)
def test_refused_names_reachable_states(kind, change_type, current, target, reachable):
    with pytest.raises(ItsmTransitionError) as error:
        _lifecycle.plan_path(kind, current, target, change_type, label="REC1")
    message = str(error.value)
    assert f"from {current} to {target}" in message
    assert message.endswith(f"states reachable from {current}: {reachable}")
    assert error.value.details["option"] == "state"


def test_unknown_change_type_is_a_validation_error():
    with pytest.raises(ItsmValidationError, match="type: 'minor' is not valid; expected one of: normal"):
        _lifecycle.plan_path("change", "new", "assess", "minor")


@pytest.mark.parametrize("change_type, state, decision, outcome", [
    ("normal", "assess", "approved", ("authorize", "requested")),
    ("normal", "authorize", "approved", ("scheduled", "approved")),
    ("normal", "assess", "rejected", ("new", "rejected")),
    ("normal", "authorize", "rejected", ("new", "rejected")),
    ("emergency", "authorize", "approved", ("scheduled", "approved")),
    ("emergency", "authorize", "rejected", ("new", "rejected")),
    ("normal", "new", "approved", None),
    ("normal", "scheduled", "approved", None),
    ("standard", "new", "approved", None),
])
def test_approval_outcomes(change_type, state, decision, outcome):
    assert _lifecycle.approval_outcome(change_type, state, decision) == outcome


@pytest.mark.parametrize("kind, state, values, missing", [
    ("change", "closed", {}, ["close_code", "close_notes"]),
    ("change", "closed", {"close_code": "successful"}, ["close_notes"]),
    ("change", "assess", {}, ["assignment_group"]),
    ("change", "implement", {}, []),
    ("incident", "on_hold", {}, ["hold_reason"]),
    ("incident", "resolved", {"close_code": "duplicate", "close_notes": "x"}, []),
])
def test_required_fields(kind, state, values, missing):
    assert _lifecycle.missing_fields(kind, state, values) == missing


# -- every missing requirement at once (issue 12) ------------------------------------------------------

@pytest.mark.parametrize("kind, change_type, current, target, values, lacking", [
    ("change", "normal", "new", "closed", {}, "; on the way it also needs assignment_group to enter assess and "
                                              "close_code, close_notes to enter closed"),
    ("change", "normal", "new", "closed", {"assignment_group": "ops", "close_code": "successful"},
     "; on the way it also needs close_notes to enter closed"),
    ("change", "emergency", "new", "implement", {}, "; on the way it also needs assignment_group to enter authorize"),
    ("change", "normal", "new", "closed", {"assignment_group": "ops", "close_code": "successful", "close_notes": "x"},
     ""),
])
def test_an_unreachable_state_names_what_the_way_there_lacks(kind, change_type, current, target, values, lacking):
    with pytest.raises(ItsmTransitionError) as error:
        _lifecycle.plan_path(kind, current, target, change_type, label="REC1", values=values)
    assert str(error.value) == (f"state: cannot move REC1 from {current} to {target} (only approvals move a "
                                f"{change_type} change on from {' and '.join(_lifecycle.CHANGE_APPROVAL_MOVES[change_type])}; "
                                f"record them with change_approval){lacking}; states reachable from {current}: "
                                f"{', '.join(_lifecycle.CHANGE_USER_TRANSITIONS[change_type][current])}")


def test_missing_on_path_names_a_field_once_at_the_first_state_needing_it():
    assert _lifecycle.missing_on_path("incident", ["resolved", "closed"], {"close_code": "solution_provided"}) == [
        ("resolved", ["close_notes"])]
    assert _lifecycle.missing_on_path("change", ["assess", "authorize"], {}) == [("assess", ["assignment_group"])]


# -- problems (issue 19): ServiceNow's model, the resolution code choosing the way ------------------------------

@pytest.mark.parametrize("code, target, path", [
    (None, "resolved", ["assess", "root_cause_analysis", "resolved"]),
    ("fix_applied", "resolved", ["assess", "root_cause_analysis", "fix_in_progress", "resolved"]),
    ("risk_accepted", "resolved", ["assess", "root_cause_analysis", "resolved"]),
    ("fix_applied", "closed", ["assess", "root_cause_analysis", "fix_in_progress", "resolved", "closed"]),
    ("canceled", "closed", ["closed"]),
    ("duplicate", "closed", ["closed"]),
])
def test_a_problem_walks_the_way_its_resolution_code_allows(code, target, path):
    assert _lifecycle.plan_path("problem", "new", target, values={"resolution_code": code}) == path


def test_a_resolution_code_that_cannot_enter_a_state_is_refused_saying_from_where():
    with pytest.raises(ItsmTransitionError, match="from new to resolved with resolution_code duplicate .a problem enters "
                                                  "resolved with it only from no state.; .*states reachable from new: "
                                                  "assess, closed"):
        _lifecycle.plan_path("problem", "new", "resolved", label="PRB1", values={"resolution_code": "duplicate"})


@pytest.mark.parametrize("state, values, missing", [
    ("assess", {}, ["assigned_to"]),
    ("fix_in_progress", {"assigned_to": "a"}, ["cause_notes", "fix_notes"]),
    ("resolved", {"assigned_to": "a"}, ["resolution_code"]),
    ("resolved", {"assigned_to": "a", "resolution_code": "fix_applied"}, ["cause_notes", "fix_notes"]),
    ("closed", {"assigned_to": "a", "resolution_code": "risk_accepted", "cause_notes": "c"}, ["close_notes"]),
    ("closed", {"assigned_to": "a", "resolution_code": "canceled"}, ["close_notes"]),
    ("closed", {"assigned_to": "a", "resolution_code": "duplicate"}, ["duplicate_of"]),
])
def test_what_a_problem_needs_to_enter_a_state(state, values, missing):
    assert _lifecycle.missing_fields("problem", state, values) == missing


def test_re_analysis_is_a_move_back_to_root_cause_analysis_from_a_fix_or_a_settled_problem():
    assert [_lifecycle.reanalysis("problem", state, "root_cause_analysis") for state in
            ("assess", "fix_in_progress", "resolved", "closed")] == [False, True, True, True]
    assert not _lifecycle.reanalysis("incident", "resolved", "root_cause_analysis")
