# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The modules' silent traps of issue 12, through the runners, on the local store and on the ServiceNow simulator.

Each trap gives a clear error or the right result, and the same one on every backend: a refused task
leaves the store as it was, and check mode predicts what the real run does.
"""

from __future__ import annotations

import typing as t
import uuid

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.opsgate.itsm.plugins.module_utils import _workflow as workflow
from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (
    ItsmConflictError,
    ItsmError,
    ItsmTransitionError,
    ItsmValidationError,
)
from ansible_collections.opsgate.itsm.plugins.module_utils._options import ConnectionSettings, connection_argument_spec
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local import LocalBackend
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import attachment, change_approval, change_request, incident
from tests.unit.plugins.module_utils.backends import sn_sim

BACKENDS = ["local", "servicenow"]


@pytest.fixture(scope="module", autouse=True)
def _stop_servicenow_simulator():
    yield
    sn_sim.stop()


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    if request.param == "local":
        built = LocalBackend(ConnectionSettings(local_db=str(tmp_path / "itsm.sqlite"), username="tester"))
    else:
        built = sn_sim.contract_backend(tmp_path)  # the groups, people and CIs below exist there
    yield built
    built.close()


def run(runner, backend, check_mode: bool = False, **args) -> dict[str, t.Any]:
    """One task as its action plugin runs it: validated arguments, then run()."""
    spec = dict(connection_argument_spec(), **runner.ARGUMENT_SPEC)
    validated = ArgumentSpecValidator(spec, **getattr(runner, "ARGUMENT_RULES", {})).validate(args)
    assert not validated.error_messages
    return runner.run(validated.validated_parameters, backend, check_mode=check_mode, warn=lambda text: None)


def unique(prefix: str) -> str:
    return f"traps-{prefix}-{uuid.uuid4().hex[:10]}"  # the simulator is shared by the whole session


def stored(backend, kind: str, number: str) -> dict[str, t.Any]:
    """The record as stored now, with its affected CIs read afresh."""
    record = backend.get(kind, number=number)
    if kind == "change":
        record["configuration_items"] = sorted(backend.affected_cis({"number": number}))
    return record


# -- a correlation id another open record holds (item 2) ----------------------------------------

@pytest.mark.parametrize("kind, runner", [("change", change_request), ("incident", incident)])
def test_a_correlation_id_another_open_record_holds_is_refused_naming_it(backend, kind, runner):
    taken, own = unique("taken"), unique("own")
    holder = run(runner, backend, correlation_id=taken, short_description="the holder")["record"]
    other = run(runner, backend, correlation_id=own, short_description="the other")["record"]
    before = stored(backend, kind, other["number"])

    with pytest.raises(ItsmConflictError, match=rf"correlation_id: '{taken}' is held by open {kind} {holder['number']}"):
        run(runner, backend, number=other["number"], correlation_id=taken, description="moved")

    assert stored(backend, kind, other["number"]) == before
    # still names one record
    assert workflow.find_existing(backend, kind, None, taken).record["number"] == holder["number"]


def test_a_correlation_id_only_a_settled_change_holds_can_be_taken(backend):
    taken = unique("settled")
    holder = run(change_request, backend, correlation_id=taken, short_description="first try", state="canceled")
    other = run(change_request, backend, correlation_id=unique("own"), short_description="second try")["record"]

    moved = run(change_request, backend, number=other["number"], correlation_id=taken)

    assert holder["record"]["state"] == "canceled"
    assert moved["record"]["correlation_id"] == taken
    assert workflow.find_existing(backend, "change", None, taken).record["number"] == other["number"]


# -- every check before the first write, CIs included (item 3) -----------------------------------

def _open_change(backend, **fields) -> dict[str, t.Any]:
    args = dict(correlation_id=unique("change"), short_description="patch web tier", assignment_group="ops",
                configuration_items=["web01"], start_date="2033-03-01T10:00:00Z", end_date="2033-03-01T11:00:00Z")
    args.update(fields)
    record = run(change_request, backend, **args)["record"]
    return stored(backend, "change", record["number"])


# Refusals every backend makes: an update, a transition or a create that also sets the CIs.
REFUSED_EVERYWHERE = {
    "update: type": dict(type="emergency"),
    "update: end before start": dict(end_date="2033-03-01T09:00:00Z"),
    "transition: unreachable state": dict(state="implement"),
    "transition: missing fields": dict(state="closed"),
}


@pytest.mark.parametrize("refusal", list(REFUSED_EVERYWHERE.values()), ids=list(REFUSED_EVERYWHERE))
def test_a_refused_task_setting_cis_leaves_the_change_and_its_cis_unchanged(backend, refusal):
    before = _open_change(backend)

    with pytest.raises(ItsmError):
        run(change_request, backend, number=before["number"], configuration_items=["web02", "web03"], risk="high",
            **refusal)

    assert stored(backend, "change", before["number"]) == before


def test_a_refused_transition_of_a_standard_change_leaves_its_cis(backend):
    before = _open_change(backend, type="standard", state="implement")

    with pytest.raises(ItsmTransitionError, match="cannot enter closed without close_code, close_notes"):
        run(change_request, backend, number=before["number"], state="closed", configuration_items=["web02"])

    assert stored(backend, "change", before["number"]) == before


@pytest.mark.parametrize("refusal", [dict(state="implement"), dict(end_date="2033-03-01T09:00:00Z")],
                         ids=["unreachable state", "end before start"])
def test_a_refused_create_with_cis_leaves_nothing(backend, refusal):
    correlation_id = unique("refused-create")

    with pytest.raises(ItsmError):
        _open_change(backend, correlation_id=correlation_id, **refusal)

    assert list(backend.find("change", {"correlation_id": correlation_id})) == []


# Names only ServiceNow keeps a directory of (the local store takes any group or person).
UNKNOWN_NAMES = {
    "update: assignment_group": dict(assignment_group="no-such-group"),
    "update: assigned_to": dict(assigned_to="no.such.person"),
    "transition: assignment_group": dict(state="assess", assignment_group="no-such-group"),
    "transition: assigned_to": dict(state="assess", assigned_to="no.such.person"),
    "update: a CI": dict(configuration_items=["web02", "no-such-ci"], assignment_group="web"),
}


@pytest.mark.parametrize("backend", ["servicenow"], indirect=True)
@pytest.mark.parametrize("unknown", list(UNKNOWN_NAMES.values()), ids=list(UNKNOWN_NAMES))
def test_an_unknown_name_refuses_the_task_before_the_cis_are_written(backend, unknown):
    before = _open_change(backend)
    args = dict(dict(configuration_items=["web02", "web03"]), **unknown)

    with pytest.raises(ItsmError, match=r"^(assignment_group|assigned_to|configuration_items): .* no .* named"):
        run(change_request, backend, number=before["number"], **args)

    assert stored(backend, "change", before["number"]) == before


@pytest.mark.parametrize("backend", ["servicenow"], indirect=True)
def test_an_unknown_name_refuses_a_create_with_cis_before_anything_is_written(backend):
    correlation_id = unique("unknown-create")

    with pytest.raises(ItsmError, match="assignment_group: .* no .* named 'no-such-group'"):
        _open_change(backend, correlation_id=correlation_id, assignment_group="no-such-group")

    assert list(backend.find("change", {"correlation_id": correlation_id})) == []


# -- check mode predicts the real run, CIs and state moves together (item 4) ---------------------

PREDICTED = ("state", "approval", "active", "configuration_items", "assignment_group", "risk", "close_code",
             "close_notes")
MOVES = {
    "one step": (dict(), dict(state="assess", configuration_items=["web01", "web03"], risk="low")),
    "several steps": (dict(type="standard", state="implement"),
                      dict(state="closed", close_code="successful", close_notes="done", configuration_items=["web02"])),
    "no state change": (dict(), dict(configuration_items=["db01"], risk="high")),
}


@pytest.mark.parametrize("created, task", list(MOVES.values()), ids=list(MOVES))
def test_check_mode_predicts_the_real_run(backend, created, task):
    before = _open_change(backend, **created)

    predicted = run(change_request, backend, check_mode=True, number=before["number"], **task)
    unchanged = stored(backend, "change", before["number"])
    real = run(change_request, backend, number=before["number"], **task)

    assert unchanged == before
    assert predicted["changed"] is real["changed"] is True
    assert {name: predicted["record"][name] for name in PREDICTED} == {name: real["record"][name] for name in PREDICTED}
    assert predicted["diff"]["after"]["configuration_items"] == real["diff"]["after"]["configuration_items"]
    assert predicted["diff"]["before"]["configuration_items"] == before["configuration_items"]


# -- an empty approver (item 5) ---------------------------------------------------------------------

@pytest.mark.parametrize("approver", ["", "   "], ids=["empty", "blank"])
def test_an_empty_approver_is_refused_and_records_nothing(backend, approver):
    change = _open_change(backend, state="assess")
    approvals = backend.approvals(change)

    with pytest.raises(ItsmValidationError, match=r"^approver: '\s*' is not valid; name the person who decides"):
        run(change_approval, backend, number=change["number"], approver=approver, decision="approved")

    assert backend.approvals(change) == approvals
    assert stored(backend, "change", change["number"]) == change


# -- attachment names and kinds (items 6 and 7) -------------------------------------------------------

@pytest.fixture
def log_file(tmp_path):
    path = tmp_path / "run.log"
    path.write_bytes(b"deploy ok\n")
    return str(path)


BAD_NAMES = ["../../etc/passwd", "logs/run.log", "/etc/passwd", "..\\run.log", "C:\\temp\\run.log", "..", ".",
             "", "   ", "run\x00.log"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_an_attachment_name_that_is_not_a_file_name_is_refused(backend, log_file, name):
    change = _open_change(backend)

    with pytest.raises(ItsmValidationError, match="^name: .* is not valid; expected a file name"):
        run(attachment, backend, number=change["number"], path=log_file, name=name)

    assert backend.attachments("change", change) == []


def test_a_file_name_with_dots_inside_is_still_a_file_name(backend, log_file):
    change = _open_change(backend)

    result = run(attachment, backend, number=change["number"], path=log_file, name="release..notes.txt")

    assert result["attachment"]["name"] == "release..notes.txt"


def test_an_incident_number_attaches_to_the_incident_without_kind(backend, log_file):
    raised = run(incident, backend, correlation_id=unique("incident"), short_description="web tier down")["record"]

    result = run(attachment, backend, number=raised["number"], path=log_file)

    assert result["changed"] is True and result["record"]["number"] == raised["number"]
    assert [item["name"] for item in backend.attachments("incident", raised)] == ["run.log"]


def test_an_incident_correlation_id_without_kind_says_to_set_kind(backend, log_file):
    correlation_id = unique("incident-by-id")
    run(incident, backend, correlation_id=correlation_id, short_description="web tier down")

    with pytest.raises(ItsmValidationError, match=r"no change holds this correlation id; .* set kind: incident"):
        run(attachment, backend, correlation_id=correlation_id, path=log_file)


def test_a_number_whose_prefix_names_no_kind_asks_for_kind(backend, log_file):
    with pytest.raises(ItsmValidationError, match=r"^number: 'RITM0010001' is not valid; .* set kind"):
        run(attachment, backend, number="RITM0010001", path=log_file)


# -- every missing requirement at once (item 8) -------------------------------------------------------

def test_new_to_closed_names_the_approvals_and_the_close_fields(backend):
    change = run(change_request, backend, correlation_id=unique("close"), short_description="patch")["record"]

    with pytest.raises(ItsmTransitionError) as refused:
        run(change_request, backend, number=change["number"], state="closed")

    message = str(refused.value)
    assert "only approvals move a normal change on from assess and authorize" in message
    assert ("on the way it also needs assignment_group to enter assess and close_code, close_notes to enter closed"
            in message)
    assert message.endswith("states reachable from new: assess, canceled")


def test_a_field_two_steps_need_is_named_once(backend):
    raised = run(incident, backend, correlation_id=unique("hold"), short_description="disk full")["record"]
    run(incident, backend, number=raised["number"], state="on_hold", hold_reason="awaiting_vendor")

    with pytest.raises(ItsmTransitionError) as refused:
        run(incident, backend, number=raised["number"], state="closed", close_code="solution_provided")

    assert str(refused.value) == (f"state: {raised['number']} cannot enter resolved without close_notes; "
                                  "set close_notes in the same task")


# -- a record always has a summary (item 9) ----------------------------------------------------------

@pytest.mark.parametrize("kind, runner", [("change", change_request), ("incident", incident)])
@pytest.mark.parametrize("summary", ["", "  ", None], ids=["empty", "blank", "missing"])
def test_a_new_record_without_a_summary_is_refused(backend, kind, runner, summary):
    correlation_id = unique("summary")
    args = dict(correlation_id=correlation_id) if summary is None else dict(correlation_id=correlation_id,
                                                                            short_description=summary)

    with pytest.raises(ItsmValidationError, match=rf"^short_description: .* is not valid; every {kind} needs a summary"):
        run(runner, backend, **args)

    assert list(backend.find(kind, {"correlation_id": correlation_id})) == []


@pytest.mark.parametrize("kind, runner", [("change", change_request), ("incident", incident)])
def test_a_summary_is_never_emptied(backend, kind, runner):
    record = run(runner, backend, correlation_id=unique("keep"), short_description="keep me")["record"]
    before = stored(backend, kind, record["number"])

    with pytest.raises(ItsmValidationError, match="^short_description: '' is not valid"):
        run(runner, backend, number=record["number"], short_description="")

    assert stored(backend, kind, record["number"]) == before
