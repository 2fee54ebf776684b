# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""run() of the incident_info module. FOR INTERNAL COLLECTION USE ONLY."""

from __future__ import annotations

import typing as t

from .._records import INCIDENT, INCIDENT_STATES
from ..backends._base import ItsmBackend
from .change_request_info import find, result

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = dict(
    number=dict(type="str"),
    correlation_id=dict(type="str"),
    state=dict(type="list", elements="str", choices=list(INCIDENT_STATES)),
    active=dict(type="bool"),
    assignment_group=dict(type="str"),
    configuration_item=dict(type="str"),
    caused_by=dict(type="str"),
    problem=dict(type="str"),
    opened_after=dict(type="str"),
    opened_before=dict(type="str"),
    limit=dict(type="int", default=1000),
    include=dict(type="list", elements="str", choices=["notes"]),
)
FILTERS = ("number", "correlation_id", "state", "active", "assignment_group", "configuration_item", "caused_by",
           "problem", "opened_after", "opened_before")


def run(params: t.Mapping[str, t.Any], backend: ItsmBackend, check_mode: bool,
        warn: t.Callable[[str], None]) -> dict[str, t.Any]:
    found = find(backend, INCIDENT, params, FILTERS, warn)
    return result(backend, INCIDENT, params, found, found.records)
