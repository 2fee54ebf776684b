# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One refusal table, run on every backend of the contract suite (issue 16).

Each row is an input (a call of the contract, or a runner where the task checks first) and the refusal every
backend answers it with: the error class and the whole message, which names the option. A playbook that
passes on one backend must not fail on another for input reasons, so the same input gets the same words
everywhere; ``${where}`` is how the backend names itself (servicenow: the instance URL, local: ``local_db
<path>``), ``${backend}`` its name, ``${prefix}`` this test's CI name prefix. Every row also proves that the
refusal came before the first write: the records, the test's CIs and their relationships, and the prepared
change and incident read the same after the refusal as before. A row that reaches what only some backends have
(CMDB relationships: ``cmdb_relations``) runs on the backends that claim it; its input checks run everywhere.

The table covers the issue's "Backends disagree" list (a CI class such as ``Linux Server!``, an unknown
relationship type, a relationship to a missing CI, an incident on an unknown CI, a correlation id with ``^``,
and a ``^`` refused naming the option it came in, not ``filters``).
"""

from __future__ import annotations

import dataclasses
import string
import typing as t
import uuid

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (
    ItsmError,
    ItsmNotFoundError,
    ItsmValidationError,
)
from ansible_collections.opsgate.itsm.plugins.module_utils._input import TEMPLATE_FIELDS
from ansible_collections.opsgate.itsm.plugins.module_utils.backends.local.cmdb import RELATION_TYPES
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import (
    change_request,
    change_template,
    configuration_item,
    incident,
)
from tests.simulators.servicenow.seed import REL_TYPES
from tests.unit.plugins.module_utils.backends.conftest import backends_with

V, NF = ItsmValidationError, ItsmNotFoundError
NO_CARET = "is not valid; expected text without ^ or control characters"
CORRELATION = NO_CARET + ", up to 100 characters"
SCRIPT = ("is not valid; expected a plain value, not one starting with javascript: (ServiceNow "
          "would run it as a script and match whatever it returns)")
CLASS = ("is not valid; expected a class such as linux_server or a CI table such as cmdb_ci_linux_server "
         "(lower-case letters, digits and underscores)")
ENTRY = "is not valid; expected {type, target} with non-empty text, like {type: Runs on, target: esx01}"
DESCRIPTOR = "is not valid; expected a relationship type's parent descriptor, such as Runs on"
LONG_ID = "x" * 101
RELATIONS = ("cmdb_relations",)
PROBLEMS = ("problems",)


class Prepared:
    """What the rows act on, made before the snapshot: two CIs of this test, a change and an incident."""

    def __init__(self, backend):
        self.prefix = "rf" + uuid.uuid4().hex[:8]
        self.web, self.esx, self.nowhere = (f"{self.prefix}-{name}" for name in ("web", "esx", "nowhere"))
        for name in (self.web, self.esx):
            backend.put_ci(name, "linux_server", {})
        self.change = backend.create("change", {"short_description": "patch web tier"})
        self.incident = backend.create("incident", {"short_description": "web tier down"})


@dataclasses.dataclass(frozen=True)
class Refusal:
    id: str
    call: t.Callable[[t.Any, Prepared], t.Any]
    error: type[ItsmError]
    message: str  # a string.Template: ${where}, ${backend}, ${prefix}
    needs: tuple[str, ...] = ()  # capabilities the row's call needs past its input checks (run where claimed)

    @property
    def option(self) -> str:
        return self.message.split(":", 1)[0]


def _create(kind: str, **fields):
    summary = {"short_description": "refused"}
    return lambda backend, ready: backend.create(kind, dict(summary, **fields))


def _relations(*relations: dict, resolve: bool = False):
    def call(backend, ready):
        given = [{key: string.Template(value).substitute(prefix=ready.prefix) for key, value in item.items()}
                 for item in relations]
        if resolve:
            return backend.resolve_ci_relations(ready.web, given)
        return backend.put_ci_relations(ready.web, given)
    return call


REFUSALS = [
    # -- correlation ids (D3): 1-100 characters, no ^, no control character, wherever they come in ----------------
    Refusal("correlation_id-caret-create", _create("change", correlation_id="a^b"), V,
            f"correlation_id: 'a^b' {CORRELATION}"),
    Refusal("correlation_id-newline-create", _create("incident", correlation_id="a\nb"), V,
            f"correlation_id: 'a\\nb' {CORRELATION}"),
    Refusal("correlation_id-too-long-create", _create("change", correlation_id=LONG_ID), V,
            f"correlation_id: '{LONG_ID}' {CORRELATION}"),
    Refusal("correlation_id-caret-update",
            lambda backend, ready: backend.update("incident", ready.incident, {"correlation_id": "a^b"}), V,
            f"correlation_id: 'a^b' {CORRELATION}"),
    Refusal("correlation_id-caret-lookup", lambda backend, ready: backend.get("change", correlation_id="a^b"), V,
            f"correlation_id: 'a^b' {CORRELATION}"),
    Refusal("correlation_id-tab-lookup", lambda backend, ready: backend.get("incident", correlation_id="a\tb"), V,
            f"correlation_id: 'a\\tb' {CORRELATION}"),
    Refusal("correlation_id-caret-find",
            lambda backend, ready: list(backend.find("incident", {"correlation_id": "a^b"})), V,
            f"correlation_id: 'a^b' {CORRELATION}"),
    # -- a javascript: value, which ServiceNow evaluates instead of matching (issue 14): any case, spaces around ----
    Refusal("correlation_id-javascript-lookup",
            lambda backend, ready: backend.get("incident", correlation_id="javascript:gs.getUserName()"), V,
            f"correlation_id: 'javascript:gs.getUserName()' {SCRIPT}"),
    Refusal("correlation_id-javascript-spaces-create",
            _create("incident", correlation_id="  JavaScript:gs.getUserName() "), V,
            f"correlation_id: '  JavaScript:gs.getUserName() ' {SCRIPT}"),
    Refusal("correlation_id-javascript-update", lambda backend, ready: backend.update(
        "incident", ready.incident, {"correlation_id": "JAVASCRIPT:gs.getUserName()"}), V,
        f"correlation_id: 'JAVASCRIPT:gs.getUserName()' {SCRIPT}"),
    Refusal("correlation_id-javascript-find",
            lambda backend, ready: list(backend.find("incident", {"correlation_id": " javascript:gs.getUserName()"})),
            V, f"correlation_id: ' javascript:gs.getUserName()' {SCRIPT}"),
    Refusal("number-javascript-lookup", lambda backend, ready: backend.get("change", number="javascript:x()"), V,
            f"number: 'javascript:x()' {SCRIPT}"),
    Refusal("assignment_group-javascript-create", _create("change", assignment_group=" JavaScript:gs.getUserID()"), V,
            f"assignment_group: ' JavaScript:gs.getUserID()' {SCRIPT}"),
    Refusal("caller-javascript-create", _create("incident", caller="javascript:gs.getUserID()"), V,
            f"caller: 'javascript:gs.getUserID()' {SCRIPT}"),
    Refusal("configuration_items-javascript-create", _create("change", configuration_items=["Javascript:x()"]), V,
            f"configuration_items: 'Javascript:x()' {SCRIPT}"),
    Refusal("filter-assignment_group-javascript",
            lambda backend, ready: backend.find_limited("change", {"assignment_group": "javascript:x()"}, 10), V,
            f"assignment_group: 'javascript:x()' {SCRIPT}"),
    Refusal("cmdb-filter-name-javascript",
            lambda backend, ready: list(backend.iter_cmdb(filters={"name": "javascript:x()"})), V,
            f"filters.name: 'javascript:x()' {SCRIPT}"),
    Refusal("approver-javascript-decide",
            lambda backend, ready: backend.decide_approval(ready.change, "javascript:gs.getUserName()", "approved",
                                                           None), V,
            f"approver: 'javascript:gs.getUserName()' {SCRIPT}"),
    Refusal("correlation_id-newline-lookup", lambda backend, ready: backend.get("incident", correlation_id="victim2\n"),
            V, f"correlation_id: 'victim2\\n' {CORRELATION}"),
    # -- values a backend looks up: ^ or a control character refused naming the option, not "filters" -----------
    Refusal("number-lookup", lambda backend, ready: backend.get("change", number="CHG^1"), V,
            f"number: 'CHG^1' {NO_CARET}"),
    Refusal("assignment_group-create", _create("change", assignment_group="ops^x"), V,
            f"assignment_group: 'ops^x' {NO_CARET}"),
    Refusal("assignment_group-newline-create", _create("incident", assignment_group="ops\n"), V,
            f"assignment_group: 'ops\\n' {NO_CARET}"),
    Refusal("assigned_to-update",
            lambda backend, ready: backend.update("change", ready.change, {"assigned_to": "tech^lead"}), V,
            f"assigned_to: 'tech^lead' {NO_CARET}"),
    Refusal("requested_by-create", _create("change", requested_by="a^b"), V, f"requested_by: 'a^b' {NO_CARET}"),
    Refusal("caller-create", _create("incident", caller="a^b"), V, f"caller: 'a^b' {NO_CARET}"),
    Refusal("configuration_item-create", _create("incident", configuration_item="web^01"), V,
            f"configuration_item: 'web^01' {NO_CARET}"),
    Refusal("caused_by-create", _create("incident", caused_by="CHG^1"), V, f"caused_by: 'CHG^1' {NO_CARET}"),
    Refusal("configuration_items-create", _create("change", configuration_items=["web^01"]), V,
            f"configuration_items: 'web^01' {NO_CARET}"),
    Refusal("configuration_items-set",
            lambda backend, ready: backend.set_affected_cis(ready.change, ["web\x00"]), V,
            f"configuration_items: 'web\\x00' {NO_CARET}"),
    Refusal("template-create", _create("change", template="patch^linux"), V, f"template: 'patch^linux' {NO_CARET}"),
    Refusal("approver-decide",
            lambda backend, ready: backend.decide_approval(ready.change, "tech^lead", "approved", None), V,
            f"approver: 'tech^lead' {NO_CARET}"),
    Refusal("filter-number", lambda backend, ready: list(backend.find("change", {"number": ["CHG1", "CHG^2"]})), V,
            f"number: 'CHG^2' {NO_CARET}"),
    Refusal("filter-assignment_group",
            lambda backend, ready: backend.find_limited("change", {"assignment_group": "ops^x"}, 10), V,
            f"assignment_group: 'ops^x' {NO_CARET}"),
    Refusal("filter-configuration_item",
            lambda backend, ready: list(backend.find("incident", {"configuration_item": "web^01"})), V,
            f"configuration_item: 'web^01' {NO_CARET}"),
    Refusal("filter-caused_by", lambda backend, ready: list(backend.find("incident", {"caused_by": "CHG^1"})), V,
            f"caused_by: 'CHG^1' {NO_CARET}"),
    Refusal("cmdb-filter-name", lambda backend, ready: list(backend.iter_cmdb(filters={"name": "web^01"})), V,
            f"filters.name: 'web^01' {NO_CARET}"),
    Refusal("ci-name-put", lambda backend, ready: backend.put_ci("web^01", "linux_server", {}), V,
            f"name: 'web^01' {NO_CARET}"),
    # -- CI classes: a class or its cmdb_ci_ table, lower-case letters, digits and underscores ------------------
    Refusal("ci_class-put", lambda backend, ready: backend.put_ci(f"{ready.prefix}-new", "Linux Server!", {}), V,
            f"ci_class: 'Linux Server!' {CLASS}"),
    Refusal("ci_class-read", lambda backend, ready: list(backend.iter_cmdb("Linux Server!")), V,
            f"ci_class: 'Linux Server!' {CLASS}"),
    Refusal("ci_class-filter", lambda backend, ready: list(backend.iter_cmdb(filters={"ci_class": "Linux Server!"})),
            V, f"filters.ci_class: 'Linux Server!' {CLASS}"),
    # -- relationships: the entry, the type as a task names it, then what the system has -------------------------
    Refusal("relation-entry", _relations({"type": "Runs on"}), V, "relations: {'type': 'Runs on'} " + ENTRY),
    Refusal("relation-type-full-name", _relations({"type": "Runs on::Runs", "target": "${prefix}-esx"}), V,
            f"relations: 'Runs on::Runs' {DESCRIPTOR}"),
    Refusal("relation-type-caret", _relations({"type": "Runs^on", "target": "${prefix}-esx"}, resolve=True), V,
            f"relations: 'Runs^on' {DESCRIPTOR}"),
    Refusal("relation-types-read", lambda backend, ready: list(backend.ci_relations([ready.web], ["Runs on::Runs"])),
            V, f"relations.types: 'Runs on::Runs' {DESCRIPTOR}"),
    Refusal("relation-type-unknown", _relations({"type": "Hovers over", "target": "${prefix}-esx"}), NF,
            "relations: ${where} has no relationship type whose parent descriptor is 'Hovers over' (the part before "
            ":: of a name such as Runs on::Runs)", needs=RELATIONS),
    Refusal("relation-type-unknown-resolved", _relations({"type": "Hovers over", "target": "${prefix}-esx"},
                                                         resolve=True), NF,
            "relations: ${where} has no relationship type whose parent descriptor is 'Hovers over' (the part before "
            ":: of a name such as Runs on::Runs)", needs=RELATIONS),
    Refusal("relation-target-missing", _relations({"type": "Runs on", "target": "${prefix}-nowhere"}), NF,
            "relations: ${where} has no configuration item named '${prefix}-nowhere'", needs=RELATIONS),
    Refusal("relation-target-missing-resolved", _relations({"type": "Runs on", "target": "${prefix}-nowhere"},
                                                           resolve=True), NF,
            "relations: ${where} has no configuration item named '${prefix}-nowhere'", needs=RELATIONS),
    Refusal("relations-of-a-missing-ci",
            lambda backend, ready: backend.put_ci_relations(ready.nowhere, [{"type": "Runs on", "target": ready.esx}]),
            NF, "name: ${where} has no configuration item named '${prefix}-nowhere'", needs=RELATIONS),
    Refusal("relation-refused-before-the-ci-is-created", lambda backend, ready: configuration_item.run(
        {"name": ready.nowhere, "ci_class": "linux_server", "fields": {},
         "relations": [{"type": "Hovers over", "target": ready.esx}]}, backend, False, lambda text: None), NF,
        "relations: ${where} has no relationship type whose parent descriptor is 'Hovers over' (the part before "
        ":: of a name such as Runs on::Runs)", needs=RELATIONS),
    # -- what the system's data decides ----------------------------------------------------------------------------
    Refusal("incident-ci-unknown-create", lambda backend, ready: backend.create(
        "incident", {"short_description": "refused", "configuration_item": ready.nowhere}), NF,
        "configuration_item: ${where} has no configuration item named '${prefix}-nowhere'"),
    Refusal("incident-ci-unknown-update",
            lambda backend, ready: backend.update("incident", ready.incident, {"configuration_item": ready.nowhere}),
            NF, "configuration_item: ${where} has no configuration item named '${prefix}-nowhere'"),
    Refusal("incident-ci-unknown-transition", lambda backend, ready: backend.transition(
        "incident", ready.incident, "in_progress", {"configuration_item": ready.nowhere}), NF,
        "configuration_item: ${where} has no configuration item named '${prefix}-nowhere'"),
    Refusal("incident-ci-unknown-check-mode", lambda backend, ready: backend.create(
        "incident", {"short_description": "refused", "configuration_item": ready.nowhere}, check_mode=True), NF,
        "configuration_item: ${where} has no configuration item named '${prefix}-nowhere'"),
    Refusal("template-unknown", _create("change", template="No such template"), NF,
            "template: ${where} has no standard change template named 'No such template'"),
    Refusal("ci-class-kept", lambda backend, ready: backend.put_ci(ready.web, "win_server", {"fqdn": "x"}), V,
            "ci_class: 'win_server' is not valid; ${prefix}-web is a linux_server and the ${backend} backend does not "
            "change a CI's class; leave ci_class out or use the class it has"),
    # A change keeps its type: the domain's rule, checked by the runner before any write (no backend checks it again).
    Refusal("change-type-kept", lambda backend, ready: change_request.run(
        {"number": ready.change["number"], "type": "emergency"}, backend, False, lambda text: None), V,
        "type: 'emergency' is not valid; ${change} is a normal change and a change keeps its type; create a new "
        "change instead"),
    # -- problems (issue 19): the same input checks, and an incident's problem must exist --------------------------
    Refusal("problem-correlation_id-caret-create", _create("problem", correlation_id="a^b"), V,
            f"correlation_id: 'a^b' {CORRELATION}", needs=PROBLEMS),
    Refusal("problem-resolution_code-unknown", _create("problem", resolution_code="fixed"), V,
            "resolution_code: 'fixed' is not valid; expected one of: fix_applied, risk_accepted, canceled, duplicate",
            needs=PROBLEMS),
    Refusal("problem-duplicate_of-comma", _create("problem", duplicate_of="PRB1,PRB2"), V,
            "duplicate_of: 'PRB1,PRB2' is not valid; expected one record number without commas (a comma would make "
            "it a list of several)", needs=PROBLEMS),
    Refusal("incident-problem-caret", lambda backend, ready: backend.update("incident", ready.incident,
                                                                            {"problem": "PRB^1"}), V,
            f"problem: 'PRB^1' {NO_CARET}", needs=PROBLEMS),
    Refusal("filter-problem", lambda backend, ready: list(backend.find("incident", {"problem": ["PRB1", "PRB^2"]})),
            V, f"problem: 'PRB^2' {NO_CARET}", needs=PROBLEMS),
    Refusal("incident-problem-unknown", lambda backend, ready: incident.run(
        {"number": ready.incident["number"], "problem": "PRB9999999"}, backend, False, lambda text: None), NF,
        "problem: problem PRB9999999 does not exist on the ${backend} backend", needs=PROBLEMS),
    # -- approvals and templates: one rule each -------------------------------------------------------------------
    Refusal("decision-unknown",
            lambda backend, ready: backend.decide_approval(ready.change, "tech.lead", "maybe", None), V,
            "decision: 'maybe' is not valid; expected one of: approved, rejected"),
    Refusal("approver-empty", lambda backend, ready: backend.decide_approval(ready.change, " ", "approved", None), V,
            "approver: ' ' is not valid; name the person who decides"),
    Refusal("rejection-without-comments",
            lambda backend, ready: backend.decide_approval(ready.change, "tech.lead", "rejected", None), V,
            "comments: None is not valid; a rejection needs comments saying why"),
    Refusal("template-field-not-allowed", lambda backend, ready: change_template.run(
        {"name": "Rotate certificates", "values": {"start_date": "2026-11-24T10:00:00Z"}}, backend, False,
        lambda text: None), V,
        "values.start_date: '2026-11-24T10:00:00Z' is not valid; not a field a template can set; expected one of: "
        + ", ".join(TEMPLATE_FIELDS)),
]


def _state(backend, ready: Prepared) -> dict[str, t.Any]:
    """What a refused call must leave as it was: how many records there are, this test's CIs and relationships,
    and the prepared change (with its approvals) and incident."""
    cis = list(backend.iter_cmdb(query=f"nameSTARTSWITH{ready.prefix}", fields=None))
    return {
        "changes": backend.find_limited("change", {}, 0).total,
        "incidents": backend.find_limited("incident", {}, 0).total,
        "problems": backend.find_limited("problem", {}, 0).total if "problems" in backend.capabilities else None,
        "cis": sorted((ci["name"], ci["ci_class"], repr(sorted(ci["fields"].items()))) for ci in cis),
        "relations": sorted((item["id"], item["type"], item["target"])
                            for item in backend.ci_relations([ci["id"] for ci in cis]))
        if "cmdb_relations" in backend.capabilities else None,
        "change": backend.get("change", id=ready.change["id"]),
        "approvals": backend.approvals(ready.change),
        "incident": backend.get("incident", id=ready.incident["id"]),
    }


@pytest.mark.parametrize("backend_name, refusal", [
    pytest.param(name, refusal, id=f"{name}-{refusal.id}")
    for name in backends_with() for refusal in REFUSALS if name in backends_with(*refusal.needs)])
def test_every_backend_refuses_alike_before_writing(make_contract_backend, backend_name, refusal):
    backend = make_contract_backend(backend_name)
    ready = Prepared(backend)
    before = _state(backend, ready)

    with pytest.raises(ItsmError) as raised:
        refusal.call(backend, ready)

    expected = string.Template(refusal.message).substitute(where=backend.where, backend=backend.name,
                                                           prefix=ready.prefix, change=ready.change["number"])
    assert (type(raised.value), str(raised.value)) == (refusal.error, expected)
    assert raised.value.details["option"] == refusal.option
    assert _state(backend, ready) == before


def test_the_table_names_each_row_once():
    assert len({refusal.id for refusal in REFUSALS}) == len(REFUSALS)


def test_every_backend_says_where_it_is(backend):
    assert backend.where and backend.where in (backend.settings.url, f"local_db {getattr(backend, 'path', '')}")


def test_local_knows_the_relationship_types_the_simulated_instance_has():
    """D7: local's fixed list is ServiceNow's base system, which the simulator seeds: a type one takes, both take."""
    assert {parent for _name, parent, _child in REL_TYPES} == RELATION_TYPES
