# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""run() of the problem_info module. FOR INTERNAL COLLECTION USE ONLY."""

from __future__ import annotations

import typing as t

from .. import _workflow as workflow
from .._records import INCIDENT, PROBLEM, PROBLEM_STATES
from ..backends._base import ItsmBackend, Record
from .change_request_info import IDS_PER_READ, find, result

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = dict(
    number=dict(type="str"),
    correlation_id=dict(type="str"),
    state=dict(type="list", elements="str", choices=list(PROBLEM_STATES)),
    active=dict(type="bool"),
    assignment_group=dict(type="str"),
    configuration_item=dict(type="str"),
    opened_after=dict(type="str"),
    opened_before=dict(type="str"),
    limit=dict(type="int", default=1000),
    include=dict(type="list", elements="str", choices=["notes", "incidents"]),
)
FILTERS = ("number", "correlation_id", "state", "active", "assignment_group", "configuration_item",
           "opened_after", "opened_before")


def run(params: t.Mapping[str, t.Any], backend: ItsmBackend, check_mode: bool,
        warn: t.Callable[[str], None]) -> dict[str, t.Any]:
    workflow.require_problems(backend)
    found = find(backend, PROBLEM, params, FILTERS, warn)
    records = found.records
    if "incidents" in (params.get("include") or ()):
        records = with_incidents(backend, records)
    return result(backend, PROBLEM, params, found, records)


def with_incidents(backend: ItsmBackend, problems: list[Record]) -> list[Record]:
    """The problems, each with ``incidents``: the numbers of the incidents linked to it, oldest first; one find
    per hundred problems (the incidents' ``problem`` filter takes a list), not one per problem."""
    linked: dict[str, list[str]] = {}
    numbers = [problem["number"] for problem in problems if problem.get("number")]
    for start in range(0, len(numbers), IDS_PER_READ):
        for incident in backend.find(INCIDENT, {"problem": numbers[start:start + IDS_PER_READ]}):
            linked.setdefault(str(incident.get("problem") or "").upper(), []).append(incident["number"])
    return [dict(problem, incidents=linked.get(str(problem.get("number") or "").upper(), [])) for problem in problems]
