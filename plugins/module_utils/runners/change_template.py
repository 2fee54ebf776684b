# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""run() of the change_template module. FOR INTERNAL COLLECTION USE ONLY."""

from __future__ import annotations

import typing as t

from .. import _input as inputs
from .. import _workflow as workflow
from ..backends._base import ItsmBackend

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = dict(
    name=dict(type="str", required=True),
    values=dict(type="dict", required=True),
)


def run(params: t.Mapping[str, t.Any], backend: ItsmBackend, check_mode: bool,
        warn: t.Callable[[str], None]) -> dict[str, t.Any]:
    values = dict(params["values"])
    # The one list of what a template sets (_input.TEMPLATE_FIELDS), refused alike on every backend, before any read.
    inputs.template_fields(values)
    inputs.query_text("name", params["name"])
    before = backend.template(params["name"])
    changed = backend.put_template(params["name"], values, check_mode=check_mode)
    # Read back: the backend normalizes values and drops unset ones. Check mode stored nothing to read.
    after = (_as_it_would_be_stored(params["name"], values) if check_mode
             else backend.template(params["name"]))
    return dict(changed=changed, template=after, diff=workflow.diff(before, after))


def _as_it_would_be_stored(name: str, values: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    return {"name": name, "fields": {key: value for key, value in values.items() if value is not None}}
