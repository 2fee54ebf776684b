# -*- coding: utf-8 -*-
# Copyright: (c) 2026, opsgate.itsm contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Standard change templates of the local backend (table ``templates``). FOR INTERNAL COLLECTION USE ONLY."""

from __future__ import annotations

import json
import typing as t

from ... import _input as inputs
from . import schema
from .dialect import Connection
from .schema import Record
from .store import LocalStore


def template(store: LocalStore, name: str) -> Record | None:
    inputs.query_text("template", name)  # what a ServiceNow query cannot hold, refused here too
    with store.read() as conn:
        row = conn.execute("SELECT fields FROM templates WHERE name = ?", (name,)).fetchone() if conn else None
    return {"name": name, "fields": json.loads(row["fields"])} if row else None


def put_template(store: LocalStore, name: str, fields: t.Mapping[str, t.Any], check_mode: bool = False) -> bool:
    """Store ``fields`` (the change fields of _input.TEMPLATE_FIELDS, the module's ``values``) as the template
    ``name``."""
    values = inputs.template_fields(fields)
    encoded = json.dumps({key: value for key, value in values.items() if value is not None}, sort_keys=True)
    name = inputs.query_text("name", inputs.require_text("name", name))
    return store.put_row("SELECT name, fields FROM templates WHERE name = ?",
                         schema.upsert_sql("templates", ("name", "fields", "updated_at")),
                         (name, encoded), check_mode, inputs.now())


def template_fields(store: LocalStore, conn: Connection | None, name: str) -> dict[str, t.Any]:
    """The fields of the template ``name``, read on ``conn`` (a create's transaction); unknown: NotFound."""
    row = conn.execute("SELECT fields FROM templates WHERE name = ?", (name,)).fetchone() if conn else None
    if row is None:
        raise inputs.unknown_name("template", store.where, "standard change template", name)
    return json.loads(row["fields"])
