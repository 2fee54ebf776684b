# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""run() of the configuration_item module. FOR INTERNAL COLLECTION USE ONLY."""

from __future__ import annotations

import typing as t

from .. import _input as inputs
from .. import _workflow as workflow
from ..backends._base import ItsmBackend

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = dict(
    name=dict(type="str", required=True),
    ci_class=dict(type="str"),
    fields=dict(type="dict"),
    relations=dict(type="list", elements="dict", options=dict(
        type=dict(type="str", required=True),
        target=dict(type="str", required=True),
    )),
)


def run(params: t.Mapping[str, t.Any], backend: ItsmBackend, check_mode: bool,
        warn: t.Callable[[str], None]) -> dict[str, t.Any]:
    # Checked as the CI's name before the look-up by name, whose refusal would name the filter, not this option.
    name = inputs.ci_name(params["name"])
    # Relationships are checked before the CI is written: a refused one must leave no new CI behind (issue 5).
    relations = None if params["relations"] is None else backend.resolve_ci_relations(name, params["relations"])
    current = next(iter(backend.iter_cmdb(filters={"name": name}, page_size=1)), None)
    before = None if current is None else {"name": name, "ci_class": current["ci_class"],
                                           "fields": dict(current["fields"])}
    ci_class = params["ci_class"] if params["ci_class"] is not None else (before or {}).get("ci_class")
    # Only the fields given change; a field given as null is removed.
    fields = dict((before or {}).get("fields") or {})
    fields.update(params["fields"] or {})
    # The class as given: None keeps the CI's own, on every backend (a CI keeps its class, _input.class_kept).
    changed = backend.put_ci(name, params["ci_class"], fields, check_mode=check_mode)
    after = {"name": name, "ci_class": ci_class, "fields": {key: value for key, value in fields.items()
                                                            if value is not None}}
    if before is not None:
        before["fields"] = {key: value for key, value in before["fields"].items() if value is not None}
        if not changed:  # a reference given by name reads back as its id: nothing changed, so show what is stored
            after["fields"] = dict(before["fields"])
    if relations is not None:
        if before is not None:
            before["relations"] = [{"type": item["type"], "target": item["target"]}
                                   for item in backend.ci_relations([current["id"]], None, 1)]
        changed = backend.put_ci_relations(name, relations, check_mode=check_mode) or changed
        after["relations"] = [{"type": kind, "target": target} for kind, target in relations.wanted]
    return dict(changed=changed, record=after, diff=workflow.diff(before, after))
