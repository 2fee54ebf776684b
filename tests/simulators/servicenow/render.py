"""Serialises stored rows the way the Table API does (servicenow-api.md §2.6).

Every value is a string; references are ``{link, value}`` objects unless links are excluded;
``sysparm_display_value`` picks values, display values or both; dot-walked ``sysparm_fields``
come back under their literal dotted keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import timeutil
from .schema import CLASS_NAME, DATE, DATETIME, JOURNAL, Field, Schema, Table
from .store import Store, quote


@dataclass
class RenderOptions:
    display: str = "false"  # "false" | "true" | "all"
    exclude_link: bool = False
    fields: list[str] | None = None
    base_url: str = ""
    tz: str | None = None


def parse_display(value: str | None) -> str:
    value = (value or "false").strip().lower()
    return value if value in ("true", "all") else "false"


def parse_bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() == "true"


class Renderer:
    """Renders rows of one response; caches referenced rows and user names for its lifetime."""

    def __init__(self, store: Store, schema: Schema, opts: RenderOptions) -> None:
        self.store = store
        self.schema = schema
        self.opts = opts
        self._rows: dict[tuple[str, str], dict | None] = {}
        self._user_names: dict[str, str] = {}

    # -- lookups ----------------------------------------------------------------------------

    def row(self, table_name: str, sys_id: str) -> dict | None:
        key = (table_name, sys_id)
        if key not in self._rows:
            self._rows[key] = self.store.get(self.schema[table_name], sys_id) if sys_id else None
        return self._rows[key]

    def reference_display(self, table_name: str, sys_id: str) -> str:
        if not sys_id:
            return ""
        if table_name == "sys_user_group" and sys_id == "global":
            return "global"
        target = self.schema[table_name]
        row = self.row(table_name, sys_id)
        if row is None:
            return ""
        if target.display == "sys_id":
            return sys_id
        fdef = target.fields[target.display]
        return self.display_value(target, row, fdef)

    def user_display(self, user_name: str) -> str:
        if user_name not in self._user_names:
            rows = self.store.find(self.schema["sys_user"], user_name=user_name)
            self._user_names[user_name] = rows[0]["name"] if rows else user_name
        return self._user_names[user_name]

    def journal(self, row: dict, element: str, label: str) -> str:
        entries = self.store.execute(
            f"SELECT value, sys_created_on, sys_created_by FROM {quote('t_sys_journal_field')} "
            "WHERE element_id = ? AND element = ? ORDER BY sys_created_on DESC, rowid DESC",
            [row["sys_id"], element])
        return "".join(
            f"{timeutil.to_display(e['sys_created_on'], self.opts.tz)} - "
            f"{self.user_display(e['sys_created_by'])} ({label})\n{e['value']}\n\n" for e in entries)

    # -- values -----------------------------------------------------------------------------

    def display_value(self, table: Table, row: dict, fdef: Field) -> str:
        raw = row.get(fdef.name, "") or ""
        if fdef.type == JOURNAL:
            return self.journal(row, fdef.name, fdef.label)
        if fdef.type == CLASS_NAME:
            return self.schema[raw].label if raw in self.schema else raw
        if fdef.is_reference:
            return self.reference_display(fdef.reference, raw) if fdef.reference in self.schema else raw
        if fdef.type == DATETIME:
            return timeutil.to_display(raw, self.opts.tz)
        if fdef.type == DATE:
            return raw
        concrete = self.schema.field_for_row(table, row, fdef.name) or fdef
        return concrete.choice_label(raw)

    def cell(self, table: Table, row: dict, fdef: Field) -> object:
        raw = "" if fdef.type == JOURNAL else (row.get(fdef.name, "") or "")
        link = None
        if fdef.is_reference and raw and not self.opts.exclude_link:
            link = f"{self.opts.base_url}/api/now/table/{fdef.reference}/{raw}"
        mode = self.opts.display
        if mode == "false":
            return {"link": link, "value": raw} if link else raw
        shown = self.display_value(table, row, fdef)
        if mode == "true":
            return {"display_value": shown, "link": link} if link else shown
        out: dict[str, str] = {"display_value": shown, "value": raw}
        if link:
            out["link"] = link
        return out

    def walk(self, table: Table, row: dict | None, path: str) -> object:
        """Render a dot-walked field; a broken chain renders as an empty value."""
        head, _sep, rest = path.partition(".")
        fdef = table.fields[head]
        if not rest:
            if row is None:
                return self.cell(table, {}, fdef)
            return self.cell(table, row, fdef)
        target = self.schema[fdef.reference]
        target_row = self.row(target.name, row.get(head, "")) if row else None
        return self.walk(target, target_row, rest)

    def valid_path(self, table: Table, path: str) -> bool:
        current = table
        parts = path.split(".")
        for idx, part in enumerate(parts):
            fdef = current.fields.get(part)
            if fdef is None:
                return False
            if idx < len(parts) - 1:
                if not fdef.is_reference or fdef.reference not in self.schema:
                    return False
                current = self.schema[fdef.reference]
        return True

    def field_list(self, table: Table) -> list[str]:
        if not self.opts.fields:
            return list(table.fields)
        seen: list[str] = []
        for name in self.opts.fields:
            name = name.strip()
            if name and name not in seen and self.valid_path(table, name):
                seen.append(name)
        return seen

    def record(self, table: Table, row: dict) -> dict:
        out: dict[str, object] = {}
        for name in self.field_list(table):
            if "." in name:
                out[name] = self.walk(table, row, name)
            else:
                out[name] = self.cell(table, row, table.fields[name])
        return out

    def records(self, table: Table, rows: list[dict]) -> list[dict]:
        names = self.field_list(table)
        plain = [(n, table.fields[n]) for n in names if "." not in n]
        if len(plain) == len(names) and self.opts.display == "false":
            return [self._fast(row, plain) for row in rows]
        return [self.record(table, row) for row in rows]

    def _fast(self, row: dict, plain: list[tuple[str, Field]]) -> dict:
        # The common bulk case (inventories paging 100k CIs): no lookups needed at all.
        out: dict[str, object] = {}
        base = self.opts.base_url
        exclude = self.opts.exclude_link
        for name, fdef in plain:
            raw = "" if fdef.type == JOURNAL else (row.get(name) or "")
            if fdef.is_reference and raw and not exclude:
                out[name] = {"link": f"{base}/api/now/table/{fdef.reference}/{raw}", "value": raw}
            else:
                out[name] = raw
        return out
