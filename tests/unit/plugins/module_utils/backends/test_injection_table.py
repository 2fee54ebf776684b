# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The injection table (issue 14): hostile values through every user-supplied query value of every module and the
CMDB inventory, on every backend (local on SQLite and PostgreSQL, the ServiceNow simulator, the JSM simulator as
Cloud and as Data Center), through the runners as the action plugins call them.

Each hostile value is made from a decoy's key (the record, group, user, CI or template the value would reach if the
query were widened or redirected): ``web01^ORname!=x``, ``javascript:'web01'``, ``web01\\n``, ``web01" OR ...``,
``web0_``, ``web01%``... For each (site, value) the task either

- is refused with the collection's ItsmValidationError or ItsmNotFoundError naming the site's option and the value,
- or acts on / lists only records that hold exactly that value (never the decoy).

A task that creates a record holding the value is run twice and must find that same record the second time: a value
a backend stores differently from the way it queries it would make a duplicate at every run.
"""

from __future__ import annotations

import dataclasses
import typing as t
import uuid

import pytest

from ansible_collections.opsgate.itsm.plugins.module_utils._errors import (ItsmError, ItsmNotFoundError,
                                                                           ItsmTransitionError, ItsmUnavailableError,
                                                                           ItsmValidationError)
from ansible_collections.opsgate.itsm.plugins.module_utils.backends._base import ItsmBackend, Record
from ansible_collections.opsgate.itsm.plugins.module_utils.runners import (attachment, change_approval, change_gate,
                                                                           change_request, change_request_info,
                                                                           change_template, configuration_item,
                                                                           incident, incident_info, problem,
                                                                           problem_info)
from ansible_collections.opsgate.itsm.plugins.plugin_utils import _inventory_source as inventory_source
from tests.unit.plugins.module_utils.backends.conftest import CONTRACT_BACKENDS

#: label -> how a hostile value is made from the decoy's key ``b``
HOSTILE: dict[str, t.Callable[[str], str]] = {
    "caret": lambda b: f"{b}^",
    "^OR": lambda b: f"{b}^ORnumberISNOTEMPTY",
    "^NQ": lambda b: f"{b}^NQnumberISNOTEMPTY",
    "^ORDERBY": lambda b: f"{b}^ORDERBYnumber",
    "ORDERBY": lambda b: f"{b}ORDERBYDESCnumber",
    "javascript": lambda b: f"javascript:'{b}'",
    "JavaScript spaced": lambda b: f"  JavaScript:'{b}' ",
    "JAVASCRIPT user": lambda b: "JAVASCRIPT:gs.getUserName()",
    "newline after": lambda b: f"{b}\n",
    "newline before": lambda b: f"\n{b}",
    "crlf": lambda b: f"{b}\r\nx",
    "line separator": lambda b: f"{b}\u2028",
    "comma": lambda b: f"{b},x",
    "comma list": lambda b: f"x,{b}",
    "double quote": lambda b: f'{b}"',
    "quoted": lambda b: f'"{b}"',
    "single quote": lambda b: f"{b}'",
    "percent": lambda b: f"{b}%",
    "percent alone": lambda b: "%",
    "underscore": lambda b: f"{b[:-1]}_",
    "underscore alone": lambda b: "_",
    "star": lambda b: f"{b[:-1]}*",
    "NUL": lambda b: f"{b}\x00",
    "tab": lambda b: f"{b}\t",
    "JQL OR": lambda b: f'{b}" OR summary ~ "x',
    "JQL or bare": lambda b: f"{b} OR x",
    "backslash": lambda b: f"{b}\\",
    "backslash quote": lambda b: f'{b}\\" OR project = ITSM OR summary ~ "',
    "parenthesis": lambda b: f"{b})",
    "parenthesis OR": lambda b: f'{b}") OR (project = "ITSM',
    "leading space": lambda b: f" {b}",
    "trailing space": lambda b: f"{b} ",
    "other case": lambda b: b.swapcase(),
}

REFUSED = (ItsmValidationError, ItsmNotFoundError)
#: the standard change template the ServiceNow simulator's seed holds
SN_TEMPLATE = "Patch Linux servers - 1"


def _unique(prefix: str = "inj") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _quiet(text: str) -> None:
    """A runner's warn: warnings are not under test here."""


class World:
    """One backend and the decoys the hostile values are made from, made once per backend and site."""

    def __init__(self, backend: ItsmBackend):
        self.backend = backend
        self._made: dict[str, t.Any] = {}
        backend.put_ci("web01", "linux_server", {})  # the simulators have it already; the local stores start empty

    def once(self, key: str, make: t.Callable[[], t.Any]) -> t.Any:
        if key not in self._made:
            self._made[key] = make()
        return self._made[key]

    def change(self, site: str) -> Record:
        return self.once(f"change {site}", lambda: self.backend.create("change", {
            "short_description": f"decoy of {site}", "correlation_id": _unique("decoy"), "assignment_group": "ops",
            "configuration_items": ["web01"]}))

    def incident(self, site: str) -> Record:
        cause = self.change(f"cause of {site}")
        return self.once(f"incident {site}", lambda: self.backend.create("incident", {
            "short_description": f"decoy of {site}", "correlation_id": _unique("decoy"), "assignment_group": "ops",
            "configuration_item": "web01", "caused_by": cause["number"]}))

    def problem(self, site: str) -> Record:
        return self.once(f"problem {site}", lambda: self.backend.create("problem", {
            "short_description": f"decoy of {site}", "correlation_id": _unique("decoy")}))

    def template(self) -> str:
        if self.backend.name == "servicenow":
            return SN_TEMPLATE  # templates are defined on the instance (its seed has one), not through the backend

        def make() -> str:
            name = _unique("decoy-template")
            self.backend.put_template(name, {"short_description": "decoy template"})
            return name
        return self.once("template", make)

    def ci(self) -> str:
        def make() -> str:
            name = _unique("decoy-ci")
            self.backend.put_ci(name, "linux_server", {"environment": "decoy-env"})
            return name
        return self.once("ci", make)


@dataclasses.dataclass(frozen=True)
class Site:
    """A user-supplied query value: ``base`` the decoy's key, ``run`` what a task does with a value (the records it
    acted on or listed), ``holds`` whether a record holds exactly the value."""

    option: str  # the option a refusal names
    base: t.Callable[[World], str]
    run: t.Callable[[World, str], list[Record]]
    holds: t.Callable[[World, Record, str], bool]
    needs: tuple[str, ...] = ()  # backend capabilities the site needs


def _twice(run: t.Callable[[], Record]) -> list[Record]:
    """Run a creating task twice: the second run must find the first run's record, not make another."""
    first, second = run(), run()
    assert first["id"] == second["id"], f"the second run made another record: {first['number']}, {second['number']}"
    return [first, second]


def _field(name: str) -> t.Callable[[World, Record, str], bool]:
    return lambda world, record, value: record.get(name) == value


def _number(world: World, record: Record, value: str) -> bool:
    return str(record.get("number", "")).upper() == value.upper()


RUNNERS = {"incident": incident, "change": change_request, "problem": problem}


def _keyed(kind: str, option: str) -> t.Callable[[World, str], list[Record]]:
    """incident / change_request / problem named by ``option``: created (or found) twice, with a work note."""
    runner = RUNNERS[kind]

    def run(world: World, value: str) -> list[Record]:
        params = {option: value, "short_description": "injected", "work_notes": "written through the value"}
        return _twice(lambda: runner.run(params, world.backend, False, _quiet)["record"])
    return run


def _created_with(kind: str, option: str) -> t.Callable[[World, str], list[Record]]:
    """A new record (its own correlation id) whose ``option`` names a group, user, CI, template or cause."""
    runner = incident if kind == "incident" else change_request

    def run(world: World, value: str) -> list[Record]:
        params = {"correlation_id": _unique(), "short_description": "injected",
                  option: [value] if option == "configuration_items" else value}
        return _twice(lambda: runner.run(params, world.backend, False, _quiet)["record"])
    return run


def _found_by(run_task: t.Callable[[World, dict], Record | None], option: str) -> t.Callable[[World, str], list[Record]]:
    def run(world: World, value: str) -> list[Record]:
        found = run_task(world, {option: value})
        return [found] if found else []
    return run


def _info(runner: t.Any, option: str) -> t.Callable[[World, str], list[Record]]:
    return lambda world, value: runner.run({option: value, "limit": 50}, world.backend, False, _quiet)["records"]


def _gate(world: World, args: dict) -> Record | None:
    params = dict(args, checks=["state"], allowed_states=["new", "assess"], backend_blackouts=False, wait=False,
                  early_start=0, interval=15, max_interval="2m", wait_timeout="1h", on_timeout="fail",
                  ci_name_var="itsm_ci_name")
    return change_gate.run(params, world.backend, False, _quiet, hosts=[])["record"]


def _approve(world: World, args: dict) -> Record | None:
    try:
        return change_approval.run(dict(args, decision="approved", approver="tech.lead"), world.backend, False,
                                   _quiet)["record"]
    except ItsmTransitionError:
        # the change was found and is not awaiting tech.lead's approval: the record the value named is the one
        # the look-up rule gives (a number in any case), checked below like any other
        return world.backend.get("change", number=args.get("number"), correlation_id=args.get("correlation_id"))


def _attached(world: World, args: dict) -> Record | None:
    return attachment.run(dict(args, kind=None, path=None), world.backend, False, _quiet)["record"]


def _linked(world: World, value: str) -> list[Record]:
    """A new problem linking the incident ``value`` names: the incidents it linked."""
    params = {"correlation_id": _unique(), "short_description": "injected", "incidents": [value]}
    problem.run(params, world.backend, False, _quiet)
    linked = problem.run(params, world.backend, False, _quiet)  # the second run links nothing new
    assert not linked["linked_incidents"], f"linked again: {linked['linked_incidents']}"
    found = problem_info.run({"correlation_id": params["correlation_id"], "include": ["incidents"], "limit": 5},
                             world.backend, False, _quiet)["records"]
    return [{"number": number} for record in found for number in _incident_numbers(record)]


def _incident_numbers(record: Record) -> list[str]:
    return [item["number"] if isinstance(item, dict) else item for item in record.get("incidents") or []]


def _template(world: World, value: str) -> list[Record]:
    decoy = world.template()
    before = world.backend.template(decoy)
    try:
        change_template.run({"name": value, "values": {"short_description": "injected"}}, world.backend, False, _quiet)
    except ItsmUnavailableError:
        # servicenow: templates are defined on the instance; the value was checked (refused naming name) before
        return []
    assert world.backend.template(decoy) == before, "the decoy template changed"
    return [world.backend.template(value) or {}]


def _ci(world: World, value: str) -> list[Record]:
    decoy = world.ci()
    before = list(world.backend.iter_cmdb(filters={"name": decoy}))
    configuration_item.run({"name": value, "ci_class": "linux_server", "fields": {"environment": "injected"},
                            "relations": None}, world.backend, False, _quiet)
    assert list(world.backend.iter_cmdb(filters={"name": decoy})) == before, "the decoy CI changed"
    return list(world.backend.iter_cmdb(filters={"name": value}))


def _relation(world: World, value: str) -> list[Record]:
    name = _unique("ci")
    result = configuration_item.run({"name": name, "ci_class": "linux_server", "fields": None,
                                     "relations": [{"type": "Runs on", "target": value}]}, world.backend, False, _quiet)
    return [{"id": name, "target": item["target"]} for item in result["record"]["relations"]]


def _inventory(field: str) -> t.Callable[[World, str], list[Record]]:
    """The CMDB inventory's ``filters`` option, read as the inventory plugin reads it."""
    def run(world: World, value: str) -> list[Record]:
        world.ci()
        options = inventory_source.InventoryOptions.from_options(_inventory_options({"filters": {field: value}}))
        return list(world.backend.iter_cmdb(fields=list(options.request_fields()), filters=options.filters))
    return run


def _inventory_options(given: dict) -> t.Callable[[str], t.Any]:
    defaults = {"fields": list(inventory_source.DEFAULT_FIELDS), "hostnames": list(inventory_source.DEFAULT_HOSTNAMES),
                "ansible_host": ["ip_address"], "variable_prefix": "cmdb_", "group_prefix": "cmdb_",
                "default_groups": list(inventory_source.GROUP_KINDS), "duplicate_hostnames": "first",
                "page_size": 1000, "workers": 4}
    return lambda name: given.get(name, defaults.get(name))


def _ci_holds(field: str) -> t.Callable[[World, Record, str], bool]:
    def holds(world: World, ci: Record, value: str) -> bool:
        return (ci.get(field) if field in ("name", "ci_class") else (ci.get("fields") or {}).get(field)) == value
    return holds


def _scope(option: str) -> t.Callable[[World, str], list[Record]]:
    """The inventory's change scope (``change`` / ``change_correlation_id``)."""
    def run(world: World, value: str) -> list[Record]:
        world.change("scope")
        number, correlation_id = (value, None) if option == "change" else (None, value)
        return [inventory_source.change_scope(world.backend, number, correlation_id, False)[0]]
    return run


def _change_cis(world: World, record: Record, value: str) -> bool:
    return value in world.backend.affected_cis(record)


SITES: dict[str, Site] = {
    # look-up keys of the modules that write
    "incident correlation_id": Site(
        "correlation_id", lambda w: w.incident("key")["correlation_id"], _keyed("incident", "correlation_id"),
        _field("correlation_id")),
    "change_request correlation_id": Site(
        "correlation_id", lambda w: w.change("key")["correlation_id"], _keyed("change", "correlation_id"),
        _field("correlation_id")),
    "incident number": Site(
        "number", lambda w: w.incident("number")["number"], _keyed("incident", "number"), _number),
    "change_request number": Site(
        "number", lambda w: w.change("number")["number"], _keyed("change", "number"), _number),
    "attachment number": Site(
        "number", lambda w: w.change("attach")["number"], _found_by(_attached, "number"), _number),
    "attachment correlation_id": Site(
        "correlation_id", lambda w: w.change("attach")["correlation_id"], _found_by(_attached, "correlation_id"),
        _field("correlation_id")),
    "change_gate number": Site(
        "number", lambda w: w.change("gate")["number"], _found_by(_gate, "number"), _number),
    "change_gate correlation_id": Site(
        "correlation_id", lambda w: w.change("gate")["correlation_id"], _found_by(_gate, "correlation_id"),
        _field("correlation_id")),
    "change_approval number": Site(
        "number", lambda w: w.change("approve")["number"], _found_by(_approve, "number"), _number),
    "change_approval correlation_id": Site(
        "correlation_id", lambda w: w.change("approve")["correlation_id"], _found_by(_approve, "correlation_id"),
        _field("correlation_id")),
    "problem correlation_id": Site(
        "correlation_id", lambda w: w.problem("key")["correlation_id"], _keyed("problem", "correlation_id"),
        _field("correlation_id"), needs=("problems",)),
    "problem number": Site(
        "number", lambda w: w.problem("number")["number"], _keyed("problem", "number"), _number, needs=("problems",)),
    "problem incidents": Site(
        "incidents", lambda w: w.incident("problem")["number"], _linked, _number, needs=("problems",)),
    # names a write resolves
    "incident assignment_group": Site(
        "assignment_group", lambda w: "ops", _created_with("incident", "assignment_group"), _field("assignment_group")),
    "incident assigned_to": Site(
        "assigned_to", lambda w: "tech.lead", _created_with("incident", "assigned_to"), _field("assigned_to")),
    "incident caller": Site("caller", lambda w: "tech.lead", _created_with("incident", "caller"), _field("caller")),
    "incident configuration_item": Site(
        "configuration_item", lambda w: "web01", _created_with("incident", "configuration_item"),
        lambda w, record, value: record.get("configuration_item") in (value, value.strip())),  # jsm trims names
    "incident caused_by": Site(
        "caused_by", lambda w: w.change("cause")["number"], _created_with("incident", "caused_by"),
        lambda w, record, value: str(record.get("caused_by")).upper() == value.upper()),  # a number, in any case
    "change_request assignment_group": Site(
        "assignment_group", lambda w: "ops", _created_with("change", "assignment_group"), _field("assignment_group")),
    "change_request assigned_to": Site(
        "assigned_to", lambda w: "tech.lead", _created_with("change", "assigned_to"), _field("assigned_to")),
    "change_request requested_by": Site(
        "requested_by", lambda w: "tech.lead", _created_with("change", "requested_by"), _field("requested_by")),
    "change_request configuration_items": Site(
        "configuration_items", lambda w: "web01", _created_with("change", "configuration_items"),
        lambda w, record, value: w.backend.affected_cis(record) == [value.strip()]),  # names are trimmed
    "change_request template": Site(
        "template", lambda w: w.template(), _created_with("change", "template"), _field("template"), needs=("templates",)),
    "change_template name": Site("name", lambda w: w.template(), _template, _field("name"), needs=("templates",)),
    "configuration_item name": Site("name", lambda w: w.ci(), _ci, _ci_holds("name")),
    "configuration_item relations target": Site(
        "relations", lambda w: w.ci(), _relation, lambda w, record, value: record["target"] == value.strip(),
        needs=("cmdb_relations",)),
    # the info modules' filters
    **{f"incident_info {name}": Site(name, base, _info(incident_info, name),
                                     holds)
       for name, base, holds in (
           ("number", lambda w: w.incident("info")["number"], _number),
           ("correlation_id", lambda w: w.incident("info")["correlation_id"], _field("correlation_id")),
           ("assignment_group", lambda w: w.incident("info")["assignment_group"], _field("assignment_group")),
           ("configuration_item", lambda w: w.incident("info")["configuration_item"], _field("configuration_item")),
           ("caused_by", lambda w: w.incident("info")["caused_by"],
            lambda w, record, value: str(record.get("caused_by")).upper() == value.upper()))},
    **{f"change_request_info {name}": Site(name, base, _info(change_request_info, name),
                                           holds)
       for name, base, holds in (
           ("number", lambda w: w.change("info")["number"], _number),
           ("correlation_id", lambda w: w.change("info")["correlation_id"], _field("correlation_id")),
           ("assignment_group", lambda w: w.change("info")["assignment_group"], _field("assignment_group")))},
    **{f"problem_info {name}": Site(name, base, _info(problem_info, name), holds, needs=("problems",))
       for name, base, holds in (
           ("number", lambda w: w.problem("info")["number"], _number),
           ("correlation_id", lambda w: w.problem("info")["correlation_id"], _field("correlation_id")))},
    "change_request_info configuration_item": Site(
        "configuration_item", lambda w: w.change("info ci") and "web01", _info(change_request_info,
                                                                               "configuration_item"), _change_cis),
    # the CMDB inventory: its filters and its change scope
    "inventory filters.name": Site("filters.name", lambda w: w.ci(), _inventory("name"), _ci_holds("name")),
    "inventory filters.environment": Site(
        "filters.environment", lambda w: w.ci() and "decoy-env", _inventory("environment"), _ci_holds("environment")),
    "inventory change": Site("change", lambda w: w.change("scope")["number"], _scope("change"), _number),
    "inventory change_correlation_id": Site(
        "change_correlation_id", lambda w: w.change("scope")["correlation_id"], _scope("change_correlation_id"),
        _field("correlation_id")),
}


@pytest.fixture(scope="module", params=sorted(CONTRACT_BACKENDS))
def world(request, tmp_path_factory) -> t.Iterator[World]:
    backend = CONTRACT_BACKENDS[request.param][1](tmp_path_factory.mktemp(f"inj-{request.param}"))
    yield World(backend)
    backend.close()


def _named(error: ItsmError, option: str, value: str) -> bool:
    message = error.message
    # a name is refused or looked up with the blanks around it taken off (a CI name, a relation's target)
    shown = {value, value.strip(), repr(value), repr(value.strip()), repr(value)[1:-1]}
    return (error.details.get("option") == option and message.startswith(f"{option}: ")
            and any(text in message for text in shown))


@pytest.mark.parametrize("label", sorted(HOSTILE))
@pytest.mark.parametrize("site_name", sorted(SITES))
def test_a_hostile_value_neither_widens_nor_redirects_a_query(world, site_name, label):
    site = SITES[site_name]
    capable = set(site.needs) <= world.backend.capabilities
    value = HOSTILE[label](site.base(world)) if capable else HOSTILE[label]("web01")

    try:
        acted = site.run(world, value)
    except ItsmError as refused:
        if not capable:
            return  # a backend without the feature refuses every value: nothing can be widened there
        assert isinstance(refused, REFUSED), f"{value!r}: {type(refused).__name__}: {refused.message}"
        assert _named(refused, site.option, value), f"{value!r}: {type(refused).__name__}: {refused.message}"
        return

    assert capable, f"{value!r} was accepted by a backend without {site.needs}"
    wrong = [record for record in acted if not site.holds(world, record, value)]
    assert not wrong, f"{value!r} reached records that do not hold it: {wrong}"
